/**
 * Port selection on the loopback interface. Proxies bind for real while searching, so two
 * runtimes racing for a port cannot both win; an app's port can only be probed, because the
 * app binds it itself.
 */
import { createServer, type Server } from "node:net";

export const LOOPBACK = "127.0.0.1";

/** Listens on exactly this port, or rejects (EADDRINUSE and the like). */
export function listenOn(server: Pick<Server, "listen" | "once" | "off">, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off("listening", onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ port, host: LOOPBACK, exclusive: true });
  });
}

/** Listens on the first port in [low, high] that is not reserved and can be bound. */
export async function listenOnFirstFreePort(
  server: Pick<Server, "listen" | "once" | "off">,
  [low, high]: [number, number],
  reserved: ReadonlySet<number>,
): Promise<number> {
  for (let port = low; port <= high; port += 1) {
    if (reserved.has(port)) continue;
    try {
      await listenOn(server, port);
      return port;
    } catch (error) {
      if (!isAddressTaken(error)) throw error;
    }
  }
  throw new Error(`no free port in ${low}-${high} on ${LOOPBACK}`);
}

/** A port the OS reports free right now, and not reserved by us for something else. */
export async function pickFreePort(reserved: ReadonlySet<number>): Promise<number> {
  const maxAttempts = 20;
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    const probe = createServer();
    await listenOn(probe, 0);
    const address = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    if (address !== null && typeof address === "object" && !reserved.has(address.port)) return address.port;
  }
  throw new Error(`could not find a free port on ${LOOPBACK} after ${maxAttempts} attempts`);
}

export function isAddressTaken(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "EADDRINUSE" || code === "EACCES";
}

/** The port of an http:// URL, or undefined (no URL, or no explicit port). */
export function portOfUrl(url: string | null | undefined): number | undefined {
  if (url === null || url === undefined) return undefined;
  const port = Number(new URL(url).port);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}
