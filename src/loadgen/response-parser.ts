/**
 * An incremental HTTP/1.1 response parser that reads only what a load generator needs: the
 * status code, whether the connection stays open, and where the body ends (Content-Length,
 * chunked, or end of connection). Bodies are skipped, never copied, so a response costs one
 * header scan however large it is.
 */

const maxHeadBytes = 64 * 1024;
const maxLineBytes = 8 * 1024;
const crlfCrlf = Buffer.from("\r\n\r\n", "latin1");
const statusLinePattern = /^HTTP\/1\.[01] [1-9]\d\d(?:[ \r]|$)/;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

const enum State {
  Head,
  FixedBody,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  BodyUntilClose,
  Done,
}

/** The trimmed value of the first field whose "\r\nname:" is given, in a lower-cased head */
function fieldValue(lowerHead: string, lineStart: string): string | undefined {
  const start = lowerHead.indexOf(lineStart);
  if (start === -1) return undefined;
  const valueStart = start + lineStart.length;
  const end = lowerHead.indexOf("\r\n", valueStart);
  return lowerHead.slice(valueStart, end === -1 ? undefined : end).trim();
}

export class ResponseParser {
  /** Status code of the response being read (valid once the head is parsed) */
  status = 0;
  /** False when the server will close the connection after this response */
  keepAlive = true;
  /** Bytes that arrived after the complete response; with no pipelining they mean a broken server */
  surplusBytes = 0;

  private state = State.Head;
  private bodyIsOmitted = false;
  private partialHead: Buffer | null = null;
  private remaining = 0;
  private partialLine = "";

  /** Start reading the response to the next request; a HEAD response has no body whatever its headers say */
  reset(requestWasHead: boolean): void {
    this.status = 0;
    this.keepAlive = true;
    this.surplusBytes = 0;
    this.state = State.Head;
    this.bodyIsOmitted = requestWasHead;
    this.partialHead = null;
    this.remaining = 0;
    this.partialLine = "";
  }

  /** Feed bytes from the socket; true once the response is complete. Throws ProtocolError on a malformed response. */
  push(chunk: Buffer): boolean {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.state) {
        case State.Head:
          offset = this.readHead(chunk, offset);
          break;
        case State.FixedBody: {
          const take = Math.min(this.remaining, chunk.length - offset);
          this.remaining -= take;
          offset += take;
          if (this.remaining === 0) this.state = State.Done;
          break;
        }
        case State.ChunkSize:
          offset = this.readChunkSize(chunk, offset);
          break;
        case State.ChunkData: {
          const take = Math.min(this.remaining, chunk.length - offset);
          this.remaining -= take;
          offset += take;
          if (this.remaining === 0) {
            this.state = State.ChunkDataEnd;
            this.remaining = 2;
          }
          break;
        }
        case State.ChunkDataEnd:
          offset = this.readChunkDataEnd(chunk, offset);
          break;
        case State.Trailers:
          offset = this.readTrailer(chunk, offset);
          break;
        case State.BodyUntilClose:
          return false;
        case State.Done:
          this.surplusBytes += chunk.length - offset;
          return true;
      }
    }
    return this.state === State.Done;
  }

  /** The server closed the connection: true if that ended the response (a body delimited by close) */
  endOfStream(): boolean {
    if (this.state === State.BodyUntilClose) this.state = State.Done;
    return this.state === State.Done;
  }

  private readHead(chunk: Buffer, offset: number): number {
    let head = offset === 0 ? chunk : chunk.subarray(offset);
    let searchFrom = 0;
    if (this.partialHead !== null) {
      // The terminator may straddle the two pieces, so look a few bytes back.
      searchFrom = Math.max(0, this.partialHead.length - 3);
      head = Buffer.concat([this.partialHead, head]);
    }
    const end = head.indexOf(crlfCrlf, searchFrom);
    if (end === -1) {
      if (head.length > maxHeadBytes) throw new ProtocolError(`response head exceeds ${maxHeadBytes} bytes`);
      // The chunk's memory is reused for the next read, so keep a copy.
      this.partialHead = this.partialHead === null ? Buffer.from(head) : head;
      return chunk.length;
    }
    const consumedFromChunk = end + 4 - (this.partialHead === null ? 0 : this.partialHead.length);
    this.partialHead = null;
    this.parseHead(head.toString("latin1", 0, end));
    return offset + consumedFromChunk;
  }

  private parseHead(text: string): void {
    if (!statusLinePattern.test(text)) {
      throw new ProtocolError(`bad status line: ${JSON.stringify(text.slice(0, 40))}`);
    }
    const status = Number(text.slice(9, 12));
    const isHttp10 = text.charCodeAt(7) === 48; // "0"
    // Field names are case-insensitive and may not have space before the colon (RFC 9112), so
    // one lower-cased copy and a search per field beats walking every line.
    const lowerHead = text.toLowerCase();
    const contentLength = fieldValue(lowerHead, "\r\ncontent-length:");
    if (contentLength !== undefined && !/^\d+$/.test(contentLength)) {
      throw new ProtocolError(`bad Content-Length: ${JSON.stringify(contentLength)}`);
    }
    const chunked = /(?:^|,)\s*chunked$/.test(fieldValue(lowerHead, "\r\ntransfer-encoding:") ?? "");
    const connection = fieldValue(lowerHead, "\r\nconnection:") ?? "";

    if (status < 200) {
      // An interim response (100 Continue, 103 Early Hints): the real one follows.
      this.state = State.Head;
      return;
    }
    this.status = status;
    this.keepAlive = isHttp10 ? /\bkeep-alive\b/.test(connection) : !/\bclose\b/.test(connection);
    if (this.bodyIsOmitted || status === 204 || status === 304) {
      this.state = State.Done;
    } else if (chunked) {
      this.state = State.ChunkSize;
    } else if (contentLength !== undefined) {
      this.remaining = Number(contentLength);
      this.state = this.remaining === 0 ? State.Done : State.FixedBody;
    } else {
      this.keepAlive = false;
      this.state = State.BodyUntilClose;
    }
  }

  /** Collects one CRLF-terminated line that may span chunks; null while it is incomplete */
  private takeLine(chunk: Buffer, offset: number): { line: string | null; next: number } {
    const newline = chunk.indexOf(10, offset);
    if (newline === -1) {
      this.partialLine += chunk.toString("latin1", offset);
      if (this.partialLine.length > maxLineBytes) throw new ProtocolError("chunk header line too long");
      return { line: null, next: chunk.length };
    }
    let line = this.partialLine + chunk.toString("latin1", offset, newline);
    this.partialLine = "";
    if (line.endsWith("\r")) line = line.slice(0, -1);
    return { line, next: newline + 1 };
  }

  private readChunkSize(chunk: Buffer, offset: number): number {
    const { line, next } = this.takeLine(chunk, offset);
    if (line === null) return next;
    const sizeText = line.split(";", 1)[0]?.trim() ?? "";
    if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText))
      throw new ProtocolError(`bad chunk size: ${JSON.stringify(line)}`);
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      this.state = State.Trailers;
    } else {
      this.remaining = size;
      this.state = State.ChunkData;
    }
    return next;
  }

  private readChunkDataEnd(chunk: Buffer, offset: number): number {
    while (this.remaining > 0 && offset < chunk.length) {
      const expected = this.remaining === 2 ? 13 : 10;
      if (chunk[offset] !== expected) throw new ProtocolError("chunk data not followed by CRLF");
      this.remaining--;
      offset++;
    }
    if (this.remaining === 0) this.state = State.ChunkSize;
    return offset;
  }

  private readTrailer(chunk: Buffer, offset: number): number {
    const { line, next } = this.takeLine(chunk, offset);
    if (line === "") this.state = State.Done;
    return next;
  }
}
