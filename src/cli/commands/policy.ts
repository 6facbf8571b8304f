import { Argument } from "commander";
import { parse as parseYaml } from "yaml";
import { UserError } from "../../errors.js";
import type { EffectivePolicy, PolicyChange } from "../../engine/policies.js";
import { describeRequirement, type ProtectedPolicy } from "../../policy/protected-policy.js";
import type { PolicyChangeRecord } from "../../store/store.js";
import type { CliCommand } from "../command.js";
import { printJson } from "../json-output.js";
import { connect } from "../client.js";
import { table } from "../views.js";

export const policyCommand: CliCommand = {
  name: "policy",
  configure: (command) =>
    command
      .addArgument(new Argument("<action>").choices(["show", "set", "history"]))
      .argument("[service]", 'the service, or "*" for the default of every service')
      .argument("[stage]", "the stage (set, history)")
      .option("--approval-pass <mode>", "automatic or manual")
      .option("--approval-warning <mode>", "automatic or manual")
      .option(
        "--requires <list>",
        "required evidence, e.g. sbom,vulns or '[sbom, {vulns: {max_severity: low}}]'",
      )
      .option("--gate <on|off>", "whether the stage's quality gate must run")
      .option("--targets <list>", "the stage's targets in order, e.g. local or kube:eu,kube:us")
      .option("--json", "print JSON"),
  async run(args, options, context) {
    const [action, service, stage] = args;
    if (action === "show") return show(service, options, context);
    if (service === undefined || stage === undefined) {
      throw new UserError(`waybill policy ${action ?? ""} needs a service and a stage`);
    }
    const client = await connect(context.stateDir);
    const path = `/v1/policies/${encodeURIComponent(service)}/${encodeURIComponent(stage)}`;
    if (action === "history") {
      const { history } = await client.get<{ history: PolicyChangeRecord[] }>(path);
      if (options.json === true) {
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
    const requested = changeFromOptions(options);
    if (Object.keys(requested).length === 0) {
      throw new UserError(
        "say what to set: --approval-pass, --approval-warning, --requires, --gate or --targets",
      );
    }
    const result = await client.put<{ changed: boolean; current: PolicyChangeRecord | null }>(
      path,
      requested,
    );
    context.stdout(
      result.changed && result.current !== null
        ? `${service}/${stage}: ${summary(result.current.policy)}\n`
        : `${service}/${stage}: unchanged\n`,
    );
    return 0;
  },
};

async function show(
  service: string | undefined,
  options: Record<string, unknown>,
  context: Parameters<CliCommand["run"]>[2],
): Promise<number> {
  const client = await connect(context.stateDir);
  const query = service === undefined ? "" : `?service=${encodeURIComponent(service)}`;
  const { policies } = await client.get<{ policies: EffectivePolicy[] }>(`/v1/policies${query}`);
  if (options.json === true) {
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

function changeFromOptions(options: Record<string, unknown>): PolicyChange {
  const change: PolicyChange = {};
  const mode = (value: unknown, flag: string): "automatic" | "manual" | undefined => {
    if (value === undefined) return undefined;
    if (value === "automatic" || value === "manual") return value;
    throw new UserError(`${flag} is automatic or manual, got "${String(value)}"`);
  };
  const pass = mode(options.approvalPass, "--approval-pass");
  const warning = mode(options.approvalWarning, "--approval-warning");
  if (pass !== undefined || warning !== undefined) {
    change.approval = {
      ...(pass === undefined ? {} : { pass }),
      ...(warning === undefined ? {} : { warning }),
    };
  }
  if (typeof options.requires === "string") change.requires = requirementsFrom(options.requires);
  if (options.gate !== undefined) {
    if (options.gate !== "on" && options.gate !== "off") {
      throw new UserError(`--gate is on or off, got "${String(options.gate)}"`);
    }
    change.gate = options.gate === "on";
  }
  if (typeof options.targets === "string") {
    change.targets = options.targets.split(",").map((target) => target.trim());
  }
  return change;
}

/** A YAML flow list as in waybill.yaml, or plain names separated by commas; the server checks each. */
function requirementsFrom(text: string): PolicyChange["requires"] {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed === "none") return [];
  if (!trimmed.startsWith("["))
    return trimmed.split(",").map((name) => name.trim()) as PolicyChange["requires"];
  let parsed: unknown;
  try {
    parsed = parseYaml(trimmed);
  } catch (error) {
    throw new UserError(`--requires is not a YAML list: ${(error as Error).message.split("\n")[0] ?? ""}`);
  }
  if (!Array.isArray(parsed)) throw new UserError("--requires must be a list, such as [sbom, vulns]");
  return parsed as PolicyChange["requires"];
}

function summary(policy: ProtectedPolicy): string {
  const requires = policy.requires.map(describeRequirement).join(", ") || "nothing";
  const targets = policy.targets === undefined ? "" : `; targets ${policy.targets.join(", ")}`;
  return `approval ${policy.approval.pass}/${policy.approval.warning}; requires ${requires}; gate ${policy.gate ? "on" : "off"}${targets}`;
}
