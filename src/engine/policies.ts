/**
 * Stage policies kept by the control plane: the protected parts of each stage (approval,
 * required evidence, the gate switch, targets) that only an admin changes. A service's own
 * policy for a stage wins over the default for every service (`service` "*"); a stage with
 * neither takes the one an admin's first ship brings, and refuses anyone else's ship, which
 * could otherwise put anything live wherever it likes under a new name. Every change is a
 * `policy.changed` event.
 */
import { UserError } from "../errors.js";
import { policyChangeSchema, type PolicyChange } from "../policy/policy-change.js";

export { policyChangeSchema, type PolicyChange };
import {
  describeWeakening,
  policyOfStage,
  weakenings,
  type ProtectedPolicy,
  type Weakening,
} from "../policy/protected-policy.js";
import { serviceSpecSchema, type ServiceSpec } from "../spec/schema.js";
import { newEvent, type NewEvent, type PolicyChangeReason } from "../store/events.js";
import type { PolicyChangeRecord, Store } from "../store/store.js";

/** The service name of the defaults that apply to every service */
export const EVERY_SERVICE = "*";

/** Who asks: only one who may change policies may ship a spec that weakens one */
export interface Actor {
  name: string;
  mayChangePolicy: boolean;
}

export class PolicyForbiddenError extends UserError {
  constructor(
    message: string,
    readonly weakenings: Weakening[],
  ) {
    super(message, 2, 403);
    this.name = "PolicyForbiddenError";
  }
}

/** A stage's policy in force, and where it comes from */
export interface EffectivePolicy {
  service: string;
  stage: string;
  policy: ProtectedPolicy;
  /** True when it is the default for every service rather than the service's own */
  inherited: boolean;
  changedBy: string;
  changedAt: string;
}

const STARTING_POLICY: ProtectedPolicy = {
  approval: { pass: "automatic", warning: "manual" },
  requires: [],
  gate: true,
};

export class StagePolicies {
  constructor(private readonly store: Store) {}

  /** The policy in force for one stage of a service, if any */
  async policyFor(service: string, stage: string): Promise<ProtectedPolicy | undefined> {
    return (await this.inForce(service)).get(stage)?.policy;
  }

  /** Every stage policy in force for a service (its own, else the defaults), or every one kept. */
  async list(service?: string): Promise<EffectivePolicy[]> {
    const kept = latestPerStage(await this.store.policyChanges()).map((change) => effective(change, false));
    const policies = service === undefined ? kept : [...(await this.inForce(service)).values()];
    const stageOrder = new Map((await this.store.listServices()).map((known) => [known.name, known.stages]));
    const rank = (policy: EffectivePolicy) => {
      const order = stageOrder.get(policy.service) ?? [];
      return order.includes(policy.stage) ? order.indexOf(policy.stage) : order.length;
    };
    return policies.sort((a, b) => a.service.localeCompare(b.service) || rank(a) - rank(b));
  }

  /** The changes of one stage's policy, newest first */
  history(service: string, stage: string): Promise<PolicyChangeRecord[]> {
    return this.store.policyChanges({ service, stage });
  }

  /**
   * Judges a spec about to be shipped. Returns the `policy.changed` events to append with the
   * ship: a first ship sets the policy of stages that have none, and an admin's ship replaces
   * what it weakens. Anyone else's weakening is refused with 403, naming each field.
   */
  async admit(spec: ServiceSpec, actor: Actor): Promise<NewEvent[]> {
    const service = spec.metadata.name;
    const policies = await this.inForce(service);
    const refused: Weakening[] = [];
    const unset: string[] = [];
    const events: NewEvent[] = [];
    for (const stage of spec.stages) {
      const shipped = policyOfStage(stage);
      const current = policies.get(stage.name);
      if (current === undefined) {
        if (actor.mayChangePolicy)
          events.push(change(service, stage.name, actor, "first ship", null, shipped));
        else unset.push(stage.name);
        continue;
      }
      const looser = weakenings(current.policy, stage, `stages.${stage.name}`);
      if (looser.length === 0) continue;
      if (actor.mayChangePolicy) {
        events.push(change(service, stage.name, actor, "admin ship", current.policy, shipped));
      } else {
        refused.push(...looser);
      }
    }
    for (const [stage, current] of policies) {
      if (current.inherited || spec.stages.some((shipped) => shipped.name === stage)) continue;
      if (!actor.mayChangePolicy) {
        refused.push({ field: `stages.${stage}`, policy: "the stage", shipped: "no such stage" });
      }
    }
    if (unset.length > 0) {
      throw new PolicyForbiddenError(
        `${service} has no stage policy for ${unset.join(", ")}, and only an admin may set one: an admin ` +
          `ships it first, or sets the policy (\`waybill policy set ${service} ${unset[0]} …\`) or a ` +
          `default for every service (\`waybill policy set '*' ${unset[0]} …\`).`,
        unset.map((stage) => ({ field: `stages.${stage}`, policy: "none yet", shipped: "a new stage" })),
      );
    }
    if (refused.length > 0) {
      throw new PolicyForbiddenError(
        `this ship would weaken the protected policy of ${service}, which only an admin may change: ` +
          `${refused.map(describeWeakening).join("; ")}. Keep those fields at least as strict as the ` +
          `policy (see \`waybill policy show ${service}\`), or ask an admin to change it ` +
          `(\`waybill policy set ${service} <stage> …\`).`,
        refused,
      );
    }
    return events;
  }

  /** An admin's change of one stage's policy; returns the event, or undefined when nothing changes. */
  async change(
    service: string,
    stage: string,
    requested: PolicyChange,
    actor: Actor,
  ): Promise<NewEvent | undefined> {
    if (!actor.mayChangePolicy) throw new UserError("only an admin may change a stage policy", 2, 403);
    const own = (await this.store.policyChanges({ service, stage }))[0]?.policy;
    const base =
      own ??
      (service === EVERY_SERVICE ? undefined : await this.shippedPolicy(service, stage)) ??
      STARTING_POLICY;
    const next: ProtectedPolicy = {
      approval: { ...base.approval, ...requested.approval },
      requires: requested.requires ?? base.requires,
      gate: requested.gate ?? base.gate,
      ...((requested.targets ?? base.targets) === undefined
        ? {}
        : { targets: requested.targets ?? base.targets }),
    };
    if (own !== undefined && JSON.stringify(own) === JSON.stringify(next)) return undefined;
    return change(service, stage, actor, "set", own ?? null, next);
  }

  private async inForce(service: string): Promise<Map<string, EffectivePolicy>> {
    const policies = new Map<string, EffectivePolicy>();
    for (const change of latestPerStage(await this.store.policyChanges({ service: EVERY_SERVICE }))) {
      // A default seen from a service is that service's policy in force, inherited.
      policies.set(change.stage, { ...effective(change, service !== EVERY_SERVICE), service });
    }
    if (service === EVERY_SERVICE) return policies;
    for (const change of latestPerStage(await this.store.policyChanges({ service }))) {
      policies.set(change.stage, effective(change, false));
    }
    return policies;
  }

  /** What the stage's newest release shipped: an admin's first change starts from there. */
  private async shippedPolicy(service: string, stage: string): Promise<ProtectedPolicy | undefined> {
    const [newest] = await this.store.releaseHistory(service, stage);
    if (newest === undefined) return undefined;
    const artifact = await this.store.getArtifact(service, newest.digest);
    const spec = serviceSpecSchema.safeParse(artifact?.spec);
    const shipped = spec.success ? spec.data.stages.find((candidate) => candidate.name === stage) : undefined;
    return shipped === undefined ? undefined : policyOfStage(shipped);
  }
}

function latestPerStage(changes: PolicyChangeRecord[]): PolicyChangeRecord[] {
  const latest = new Map<string, PolicyChangeRecord>();
  for (const change of changes) {
    const key = `${change.service}\u0000${change.stage}`;
    if (!latest.has(key)) latest.set(key, change);
  }
  return [...latest.values()];
}

function effective(change: PolicyChangeRecord, inherited: boolean): EffectivePolicy {
  return {
    service: change.service,
    stage: change.stage,
    policy: change.policy,
    inherited,
    changedBy: change.by,
    changedAt: change.changedAt,
  };
}

function change(
  service: string,
  stage: string,
  actor: Actor,
  reason: PolicyChangeReason,
  previous: ProtectedPolicy | null,
  policy: ProtectedPolicy,
): NewEvent<"policy.changed"> {
  return newEvent("policy.changed", `services/${service}/stages/${stage}/policy`, {
    service,
    stage,
    by: actor.name,
    reason,
    previous,
    policy,
  });
}
