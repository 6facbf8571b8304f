/**
 * Fetching an OSV archive: OSV publishes one `all.zip` per ecosystem. The download streams to a
 * temporary file beside its destination, reports progress, is bounded in size and time, and
 * replaces the destination only once complete, so a failed download leaves the previous
 * database as it was.
 */
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { UserError } from "../../errors.js";

/** OSV's own names for the ecosystems Waybill orders */
export const OSV_ECOSYSTEMS = ["npm", "PyPI", "Go", "Maven"] as const;
const MAX_BYTES = 2 * 1024 ** 3;
const TIMEOUT_MS = 10 * 60_000;

export function defaultArchiveUrl(ecosystem: string): string | undefined {
  const known = OSV_ECOSYSTEMS.find((name) => name.toLowerCase() === ecosystem.toLowerCase());
  return known === undefined
    ? undefined
    : `https://osv-vulnerabilities.storage.googleapis.com/${known}/all.zip`;
}

export interface DownloadProgress {
  bytes: number;
  /** From Content-Length; null when the server does not say */
  total: number | null;
}

export async function downloadArchive(
  url: string,
  destination: string,
  onProgress: (progress: DownloadProgress) => void,
): Promise<number> {
  const partial = `${destination}.partial`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    throw new UserError(
      `could not download ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
    );
  }
  if (!response.ok || response.body === null) {
    throw new UserError(
      `could not download ${url}: the server answered ${response.status} ${response.statusText}`,
    );
  }
  const total = Number(response.headers.get("content-length")) || null;
  if (total !== null && total > MAX_BYTES)
    throw new UserError(`${url} is ${total} bytes, more than the ${MAX_BYTES} an archive may be`);
  let bytes = 0;
  const counted = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  counted.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_BYTES)
      counted.destroy(new UserError(`${url} is larger than the ${MAX_BYTES} bytes an archive may be`));
    onProgress({ bytes, total });
  });
  try {
    await pipeline(counted, createWriteStream(partial));
  } catch (error) {
    await rm(partial, { force: true });
    if (error instanceof UserError) throw error;
    throw new UserError(`the download of ${url} broke off after ${bytes} bytes: ${(error as Error).message}`);
  }
  await rename(partial, destination);
  return bytes;
}
