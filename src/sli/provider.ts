/**
 * The SLI provider port (docs/design.md, "Quality gate" → Other SLI providers): a source of SLI values
 * for one deployed version over one time window. A new source is one new file behind this
 * interface.
 */

export interface SliQueryContext {
  service: string;
  stage: string;
  version: string;
  start: Date;
  end: Date;
}

/**
 * Tells why a provider that knows an SLI has no value for it (e.g. "the query returned 3
 * series"), so the evaluation can say more than "no value".
 */
export type NoValueReporter = (sli: string, reason: string) => void;

export interface SliProvider {
  /** For messages, e.g. "prometheus http://prom:9090" */
  name: string;
  /**
   * Values for those of `names` this provider knows: a number, or null with the reason given to
   * `noValue`. Names it does not know are left out. Rejects when the source itself fails
   * (unreachable, timed out, unreadable output), with a message that says which and why.
   */
  fetch(
    names: string[],
    context: SliQueryContext,
    signal?: AbortSignal,
    noValue?: NoValueReporter,
  ): Promise<Record<string, number | null>>;
}

export interface CollectedSlis {
  /** One entry per wanted name; null is "no value", which fails the objective */
  values: Record<string, number | null>;
  /** Why a wanted name has no value */
  reasons: Record<string, string>;
}

/**
 * Asks every provider for the wanted names at once and merges the answers. For each name, the
 * first provider in `providers` order that has a number for it wins, so callers put the ones
 * configured in waybill.yaml before the built-in one to let them override built-in names. A
 * name no provider has a number for is null, with the providers' reasons.
 */
export async function collectSlis(
  providers: readonly SliProvider[],
  context: SliQueryContext,
  wanted: readonly string[],
  signal?: AbortSignal,
): Promise<CollectedSlis> {
  const names = [...new Set(wanted)];
  const reasonsByName = new Map<string, string[]>();
  const answers = await Promise.all(
    providers.map((provider) =>
      provider.fetch([...names], context, signal, (sli, reason) => {
        const reasons = reasonsByName.get(sli) ?? [];
        reasons.push(`${provider.name}: ${reason}`);
        reasonsByName.set(sli, reasons);
      }),
    ),
  );
  const values: Array<[string, number | null]> = [];
  const reasons: Array<[string, string]> = [];
  for (const name of names) {
    // Own properties only: an SLI may be called "constructor".
    const answered = answers.filter((answer) => Object.hasOwn(answer, name)).map((answer) => answer[name]);
    const value = answered.find((candidate): candidate is number => typeof candidate === "number");
    values.push([name, value ?? null]);
    if (value !== undefined) continue;
    reasons.push([
      name,
      answered.length === 0
        ? `no SLI provider knows "${name}"`
        : (reasonsByName.get(name)?.join("; ") ?? "no value"),
    ]);
  }
  // fromEntries defines own properties, so a name like "__proto__" stays a plain key.
  return { values: Object.fromEntries(values), reasons: Object.fromEntries(reasons) };
}
