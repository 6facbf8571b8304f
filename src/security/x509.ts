/**
 * `@peculiar/x509`, loaded on first use: most processes (the CLI above all) never issue a
 * certificate and should not pay for parsing the library at start-up.
 */
import type * as X509 from "@peculiar/x509";

export type X509Library = typeof X509;

let loading: Promise<X509Library> | null = null;

export function loadX509(): Promise<X509Library> {
  loading ??= (async () => {
    // The library's dependency injection (tsyringe) needs the Reflect metadata API first.
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(globalThis.crypto);
    return x509;
  })();
  return loading;
}
