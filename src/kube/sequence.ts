/**
 * Several clusters get a release one after another, so a bad release or a broken control
 * plane hits one cluster, not all: deploy to each in turn, and on the first failure roll back
 * the ones already done, newest first, then report the failure.
 */

export type SequenceResult<T> =
  | { state: "done"; deployed: T[] }
  | {
      state: "failed";
      failed: T;
      error: unknown;
      /** The targets that had the release and were rolled back, in that order (newest first) */
      rolledBack: T[];
      /** Rollbacks that failed too; these targets may still run the new release */
      rollbackErrors: { target: T; error: unknown }[];
    };

export async function rolloutInOrder<T>(
  targets: readonly T[],
  deployOne: (target: T) => Promise<void>,
  rollbackOne: (target: T) => Promise<void>,
): Promise<SequenceResult<T>> {
  const deployed: T[] = [];
  for (const target of targets) {
    try {
      await deployOne(target);
    } catch (error) {
      // The failed target is not rolled back here: its own deploy restores what it ran
      // (applyAndWait re-applies the previous manifests).
      const toRollBack = [...deployed].reverse();
      const rolledBack: T[] = [];
      const rollbackErrors: { target: T; error: unknown }[] = [];
      for (const done of toRollBack) {
        try {
          await rollbackOne(done);
          rolledBack.push(done);
        } catch (rollbackError) {
          rollbackErrors.push({ target: done, error: rollbackError });
        }
      }
      return { state: "failed", failed: target, error, rolledBack, rollbackErrors };
    }
    deployed.push(target);
  }
  return { state: "done", deployed };
}
