import { parse as parseYaml } from "yaml";
import { UserError } from "../../errors.js";
import { getPolicy, listPolicies, setPolicy } from "../../api/policies.js";
import type { PolicyChange } from "../../engine/policies.js";
import { describeRequirement, type ProtectedPolicy } from "../../policy/protected-policy.js";
import { argument, defineCommand, option, type CliContext } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { flag, fromText, oneOf, text } from "../options.js";
import { table } from "../views.js";

/** The server checks each requirement, so the CLI sends them as written. */
type PolicyChangeRequest = Omit<PolicyChange, "requires"> & { requires?: unknown[] };

const approvalMode = oneOf(["automatic", "manual"], { listedInHelp: false }).optional();

export const policyCommand = defineCommand({
  name: "policy",
  args: {
    action: argument(oneOf(["show", "set", "history"])),
    service: argument(text.optional(), 'the service, or "*" for the default of every service'),
    stage: argument(text.optional(), "the stage (set, history)"),
  },
  options: {
    approvalPass: option("--approval-pass <mode>", "automatic or manual", approvalMode),
    approvalWarning: option("--approval-warning <mode>", "automatic or manual", approvalMode),
    requires: option(
      "--requires <list>",
      "required evidence, e.g. sbom,vulns or '[sbom, {vulns: {max_severity: low}}]'",
      fromText(
        "expected names separated by commas, or a YAML list such as [sbom, vulns]",
        requirementsFrom,
      ).optional(),
    ),
    gate: option(
      "--gate <on|off>",
      "whether the stage's quality gate must run",
      oneOf(["on", "off"], { listedInHelp: false })
        .transform((gate) => gate === "on")
        .optional(),
    ),
    targets: option(
      "--targets <list>",
      "the stage's targets in order, e.g. local or kube:eu,kube:us",
      text.transform((list) => list.split(",").map((target) => target.trim())).optional(),
    ),
    json: option("--json", "print JSON", flag),
  },
  async run({ action, service, stage }, { json, ...requested }, context) {
    if (action === "show") return show(service, json, context);
    if (service === undefined || stage === undefined) {
      throw new UserError(`waybill policy ${action} needs a service and a stage`);
    }
    const client = await connect(context.stateDir);
    if (action === "history") {
      const { history } = await client.call(getPolicy, { params: { service, stage } });
      if (json) {
        printJson(context, history);
        return 0;
      }
      const rows = [["WHEN", "BY", "WHY", "FROM", "TO"]];
      for (const change of history) {
        rows.push([
          change.changedAt,
          change.by,
          change.reason,
          change.previous === null ? "-" : summary(change.previous),
          summary(change.policy),
        ]);
      }
      context.stdout(table(rows));
      return 0;
    }
    const change = policyChange(requested);
    if (Object.keys(change).length === 0) {
      throw new UserError(
        "say what to set: --approval-pass, --approval-warning, --requires, --gate or --targets",
      );
    }
    const result = await client.call(setPolicy, { params: { service, stage }, body: change });
    context.stdout(
      result.changed && result.current !== null
        ? `${service}/${stage}: ${summary(result.current.policy)}\n`
        : `${service}/${stage}: unchanged\n`,
    );
    return 0;
  },
});

async function show(service: string | undefined, json: boolean, context: CliContext): Promise<number> {
  const client = await connect(context.stateDir);
  const { policies } = await client.call(listPolicies, { query: service === undefined ? {} : { service } });
  if (json) {
    printJson(context, policies);
    return 0;
  }
  if (policies.length === 0) {
    context.stdout(
      "no stage policy is kept yet: an admin's first ship of a service sets its stages' policies\n",
    );
    return 0;
  }
  const rows = [["SERVICE", "STAGE", "APPROVAL (pass/warning)", "REQUIRES", "GATE", "TARGETS", "SET BY"]];
  for (const policy of policies) {
    rows.push([
      policy.inherited ? `${policy.service} (default *)` : policy.service,
      policy.stage,
      `${policy.policy.approval.pass}/${policy.policy.approval.warning}`,
      policy.policy.requires.map(describeRequirement).join(", ") || "-",
      policy.policy.gate ? "on" : "off",
      policy.policy.targets?.join(", ") ?? "any",
      `${policy.changedBy} at ${policy.changedAt}`,
    ]);
  }
  context.stdout(table(rows));
  return 0;
}

/** Only what was given: a field left out keeps its current value. */
function policyChange(requested: {
  approvalPass: "automatic" | "manual" | undefined;
  approvalWarning: "automatic" | "manual" | undefined;
  requires: unknown[] | undefined;
  gate: boolean | undefined;
  targets: string[] | undefined;
}): PolicyChangeRequest {
  const { approvalPass: pass, approvalWarning: warning, requires, gate, targets } = requested;
  const change: PolicyChangeRequest = {};
  if (pass !== undefined || warning !== undefined) {
    change.approval = {
      ...(pass === undefined ? {} : { pass }),
      ...(warning === undefined ? {} : { warning }),
    };
  }
  if (requires !== undefined) change.requires = requires;
  if (gate !== undefined) change.gate = gate;
  if (targets !== undefined) change.targets = targets;
  return change;
}

/** A YAML flow list as in waybill.yaml, or plain names separated by commas. */
function requirementsFrom(given: string): unknown[] | undefined {
  const trimmed = given.trim();
  if (trimmed === "" || trimmed === "none") return [];
  if (!trimmed.startsWith("[")) return trimmed.split(",").map((name) => name.trim());
  try {
    const parsed: unknown = parseYaml(trimmed);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function summary(policy: ProtectedPolicy): string {
  const requires = policy.requires.map(describeRequirement).join(", ") || "nothing";
  const targets = policy.targets === undefined ? "" : `; targets ${policy.targets.join(", ")}`;
  return `approval ${policy.approval.pass}/${policy.approval.warning}; requires ${requires}; gate ${policy.gate ? "on" : "off"}${targets}`;
}
