import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ReadCache, StoreHead } from "./read-cache.js";

/** A head whose queries the test answers one by one, in the order they were asked */
function heldHead() {
  const asked: ((head: number) => void)[] = [];
  const failures: ((error: Error) => void)[] = [];
  return {
    storeHead: new StoreHead(
      () =>
        new Promise<number>((resolve, reject) => {
          asked.push(resolve);
          failures.push(reject);
        }),
    ),
    asked: () => asked.length,
    async answer(index: number, head: number) {
      asked[index]?.(head);
      await new Promise((resolve) => setImmediate(resolve));
    },
    async fail(index: number) {
      failures[index]?.(new Error("the database went away"));
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe("StoreHead", () => {
  test("requests that arrive while a head query is out share the next one, asked after it returns", async () => {
    const head = heldHead();
    const first = head.storeHead.current();
    const second = head.storeHead.current();
    const third = head.storeHead.current();
    assert.equal(head.asked(), 1, "one query in flight at a time");
    await head.answer(0, 7);
    assert.equal(await first, 7);
    assert.equal(head.asked(), 2, "the waiting requests' query starts once the first returns");
    await head.answer(1, 8);
    // Both arrived while the first query was out: it may have been read before their appends.
    assert.equal(await second, 8);
    assert.equal(await third, 8);
    assert.equal(head.asked(), 2);
  });

  test("a failed head query fails its requests, and the ones behind it ask again", async () => {
    const head = heldHead();
    const first = head.storeHead.current();
    const second = head.storeHead.current();
    await head.fail(0);
    await assert.rejects(first, /went away/);
    await head.answer(1, 3);
    assert.equal(await second, 3);
    const later = head.storeHead.current();
    assert.equal(head.asked(), 3);
    await head.answer(2, 3);
    assert.equal(await later, 3);
  });
});

describe("ReadCache", () => {
  async function cacheAt(heads: number[]) {
    let next = 0;
    const cache = new ReadCache<string>(new StoreHead(async () => heads[next++] ?? Number.NaN), 2);
    const computed: string[] = [];
    const read = (key: string) =>
      cache.read(key, async () => {
        computed.push(key);
        return `${key}@${computed.length}`;
      });
    return { read, computed };
  }

  test("keeps an answer while the head stays, and computes it again once the head moved", async () => {
    const { read, computed } = await cacheAt([5, 5, 6, 6]);
    assert.equal(await read("status"), "status@1");
    assert.equal(await read("status"), "status@1");
    assert.equal(await read("status"), "status@2");
    assert.equal(await read("status"), "status@2");
    assert.deepEqual(computed, ["status", "status"]);
  });

  test("requests that miss together share one computation", async () => {
    const cache = new ReadCache<number>(new StoreHead(async () => 1), 4);
    let computations = 0;
    const compute = async () => {
      computations++;
      await new Promise((resolve) => setImmediate(resolve));
      return computations;
    };
    const answers = await Promise.all([cache.read("k", compute), cache.read("k", compute)]);
    assert.deepEqual(answers, [1, 1]);
    assert.equal(computations, 1);
  });

  test("keeps at most its number of answers, dropping the oldest", async () => {
    const { read, computed } = await cacheAt([1, 1, 1, 1, 1]);
    await read("a");
    await read("b");
    await read("c");
    await read("b");
    await read("a");
    assert.deepEqual(computed, ["a", "b", "c", "a"]);
  });

  test("does not keep a refusal: the next request computes again", async () => {
    const cache = new ReadCache<string>(new StoreHead(async () => 1), 4);
    await assert.rejects(
      cache.read("nope", async () => Promise.reject(new Error('no service named "nope"'))),
      /no service/,
    );
    assert.equal(await cache.read("nope", async () => "registered since"), "registered since");
  });
});
