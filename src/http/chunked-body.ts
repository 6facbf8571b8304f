/**
 * Reads a body in the chunked transfer coding (RFC 9112 §7.1) as its bytes arrive, in pieces cut
 * anywhere: each chunk's data is handed on as slices of the input (never copied), extensions and
 * trailer fields are skipped. Anything that is not the coding is an error, never a guess: a
 * proxy that guessed where a body ends could be made to read a second response into the first.
 */

const MAX_LINE_BYTES = 8 * 1024;
const CHUNK_SIZE = /^[0-9a-fA-F]{1,12}$/;

const enum Phase {
  Size,
  Data,
  DataEnd,
  Trailers,
  Done,
}

export class ChunkedBodyReader {
  private phase = Phase.Size;
  private remaining = 0;
  private partialLine = "";

  /** @param malformed makes the error thrown for bytes that break the coding, of the caller's own type */
  constructor(private readonly malformed: (message: string) => Error) {}

  /** The body and its trailers have been read whole. */
  get done(): boolean {
    return this.phase === Phase.Done;
  }

  /** Starts on a new body. */
  reset(): void {
    this.phase = Phase.Size;
    this.remaining = 0;
    this.partialLine = "";
  }

  /**
   * Reads from `offset` until `chunk` is used up or the body ends, calling `onData` with each
   * piece of data; returns the offset after the last byte read.
   */
  read(chunk: Buffer, offset: number, onData: ((data: Buffer) => void) | null): number {
    while (offset < chunk.length && this.phase !== Phase.Done) {
      switch (this.phase) {
        case Phase.Size:
          offset = this.readSize(chunk, offset);
          break;
        case Phase.Data: {
          const take = Math.min(this.remaining, chunk.length - offset);
          onData?.(chunk.subarray(offset, offset + take));
          this.remaining -= take;
          offset += take;
          if (this.remaining === 0) {
            this.phase = Phase.DataEnd;
            this.remaining = 2;
          }
          break;
        }
        case Phase.DataEnd:
          offset = this.readDataEnd(chunk, offset);
          break;
        case Phase.Trailers:
          offset = this.readTrailer(chunk, offset);
          break;
      }
    }
    return offset;
  }

  /** One CRLF-terminated line that may span pieces; null while it is incomplete */
  private takeLine(chunk: Buffer, offset: number): { line: string | null; next: number } {
    const newline = chunk.indexOf(10, offset);
    if (newline === -1) {
      this.partialLine += chunk.toString("latin1", offset);
      if (this.partialLine.length > MAX_LINE_BYTES) throw this.malformed("chunk line too long");
      return { line: null, next: chunk.length };
    }
    let line = this.partialLine + chunk.toString("latin1", offset, newline);
    this.partialLine = "";
    if (line.endsWith("\r")) line = line.slice(0, -1);
    return { line, next: newline + 1 };
  }

  private readSize(chunk: Buffer, offset: number): number {
    const { line, next } = this.takeLine(chunk, offset);
    if (line === null) return next;
    const semicolon = line.indexOf(";");
    const sizeText = (semicolon === -1 ? line : line.slice(0, semicolon)).trim();
    if (!CHUNK_SIZE.test(sizeText))
      throw this.malformed(`bad chunk size: ${JSON.stringify(line.slice(0, 40))}`);
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      this.phase = Phase.Trailers;
    } else {
      this.remaining = size;
      this.phase = Phase.Data;
    }
    return next;
  }

  private readDataEnd(chunk: Buffer, offset: number): number {
    while (this.remaining > 0 && offset < chunk.length) {
      if (chunk[offset] !== (this.remaining === 2 ? 13 : 10))
        throw this.malformed("chunk data not followed by CRLF");
      this.remaining -= 1;
      offset += 1;
    }
    if (this.remaining === 0) this.phase = Phase.Size;
    return offset;
  }

  private readTrailer(chunk: Buffer, offset: number): number {
    const { line, next } = this.takeLine(chunk, offset);
    if (line === "") this.phase = Phase.Done;
    return next;
  }
}
