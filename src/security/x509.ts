/**
 * `@peculiar/x509`, loaded on first use: most processes (the CLI above all) never issue a
 * certificate and should not pay for parsing the library at start-up.
 */
import type * as X509 from "@peculiar/x509";

export type X509Library = typeof X509;

let loading: Promise<X509Library> | null = null;

export function loadX509(): Promise<X509Library> {
  loading ??= (async () => {
    installReflectMetadata();
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(globalThis.crypto);
    return x509;
  })();
  return loading;
}

type MetadataKey = unknown;
type PropertyKey = string | symbol | undefined;

/**
 * The library's dependency injection (tsyringe) refuses to load without the `Reflect` metadata
 * API, which JavaScript does not have; this is the part of the reflect-metadata polyfill it calls
 * (define, get, get own). Put in place only when nothing else has, so a real polyfill loaded by
 * someone else stays in charge.
 */
function installReflectMetadata(): void {
  if ("getMetadata" in Reflect) return;
  const store = new WeakMap<object, Map<PropertyKey, Map<MetadataKey, unknown>>>();
  const own = (target: object, property: PropertyKey): Map<MetadataKey, unknown> | undefined =>
    store.get(target)?.get(property);
  const getOwnMetadata = (key: MetadataKey, target: object, property?: PropertyKey): unknown =>
    own(target, property)?.get(key);
  const getMetadata = (key: MetadataKey, target: object, property?: PropertyKey): unknown => {
    for (let at: object | null = target; at !== null; at = Object.getPrototypeOf(at) as object | null) {
      const found = own(at, property);
      if (found?.has(key) === true) return found.get(key);
    }
    return undefined;
  };
  const defineMetadata = (key: MetadataKey, value: unknown, target: object, property?: PropertyKey): void => {
    const byProperty = store.get(target) ?? new Map<PropertyKey, Map<MetadataKey, unknown>>();
    store.set(target, byProperty);
    const byKey = byProperty.get(property) ?? new Map<MetadataKey, unknown>();
    byProperty.set(property, byKey);
    byKey.set(key, value);
  };
  Object.assign(Reflect, { getMetadata, getOwnMetadata, defineMetadata });
}
