/**
 * Answers of the read routes, kept while the store's head (the newest event's seq) stays the
 * same. This is right because every change of the projections these answers read appends an
 * event in the same transaction (store.ts `append`; `rebuildProjections` folds the same log
 * again), and the kept answers hold nothing computed from the clock or from this machine: what
 * is (a stage's proxy URL, a run's live progress) is added by the route to each answer. The key
 * is the database's, so an append through another replica or process is seen as well.
 *
 * Each request reads the head after it arrived, so it sees every append committed before it:
 * requests that arrive while a head query is out share the next one, which starts when that
 * one returns (at most one in flight, so 50 clients cost one query a round, not 50). An answer
 * is computed after a head was read, so it is at least as new as the head it is kept under;
 * requests that miss together share one computation.
 */

export class StoreHead {
  private running: Promise<number> | undefined;
  private following: Promise<number> | undefined;

  constructor(private readonly readHead: () => Promise<number>) {}

  /** The head as of a query started after this call */
  current(): Promise<number> {
    const running = this.running;
    if (running === undefined) return this.start();
    this.following ??= running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.following = undefined;
        return this.start();
      });
    return this.following;
  }

  private start(): Promise<number> {
    const query = this.readHead();
    this.running = query;
    const done = () => {
      if (this.running === query) this.running = undefined;
    };
    query.then(done, done);
    return query;
  }
}

export class ReadCache<T> {
  private readonly answers = new Map<string, Promise<T>>();
  private head: number | undefined;

  /** At most `maxEntries` answers (the oldest go first), all of one head */
  constructor(
    private readonly storeHead: StoreHead,
    private readonly maxEntries: number,
  ) {}

  /** The answer kept under `key` at the current head, else `compute`'s (which must not be changed) */
  async read(key: string, compute: () => Promise<T>): Promise<T> {
    const head = await this.storeHead.current();
    if (head !== this.head) {
      this.answers.clear();
      this.head = head;
    }
    const kept = this.answers.get(key);
    if (kept !== undefined) return kept;
    const answer = compute();
    if (this.answers.size >= this.maxEntries) {
      const oldest = this.answers.keys().next();
      if (oldest.done !== true) this.answers.delete(oldest.value);
    }
    this.answers.set(key, answer);
    // A refusal or a failure is not kept: the next request asks again.
    answer.catch(() => {
      if (this.answers.get(key) === answer) this.answers.delete(key);
    });
    return answer;
  }
}
