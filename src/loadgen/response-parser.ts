/**
 * An incremental HTTP/1.1 response parser that reads only what a load generator needs: the
 * status code, whether the connection stays open, and where the body ends (Content-Length,
 * chunked, or end of connection). Bodies are skipped, never copied, so a response costs one
 * header scan however large it is.
 */
import { ChunkedBodyReader } from "../http/chunked-body.js";

const maxHeadBytes = 64 * 1024;
const crlfCrlf = Buffer.from("\r\n\r\n", "latin1");

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

const enum State {
  Head,
  FixedBody,
  Chunked,
  BodyUntilClose,
  Done,
}

/** Lower-case ASCII names of the fields the parser reads, as bytes */
const contentLengthName = Buffer.from("content-length", "latin1");
const transferEncodingName = Buffer.from("transfer-encoding", "latin1");
const connectionName = Buffer.from("connection", "latin1");
const keepAliveToken = Buffer.from("keep-alive", "latin1");
const closeToken = Buffer.from("close", "latin1");

/** Whether bytes [start, start + lowerName.length) of `head` are `lowerName` in any case */
function namedAt(head: Buffer, start: number, lowerName: Buffer): boolean {
  for (let index = 0; index < lowerName.length; index++) {
    const byte = head[start + index] as number;
    const expected = lowerName[index] as number;
    // Only a letter has another case, 0x20 below it; "-" must be itself (0x0D | 0x20 is "-" too).
    if (byte !== expected && !(expected >= 0x61 && expected <= 0x7a && byte === expected - 0x20))
      return false;
  }
  return true;
}

const isBlank = (byte: number | undefined): boolean => byte === 0x20 || byte === 0x09;

/** A field value's bytes [start, end) */
interface Span {
  start: number;
  end: number;
}

/** The span without the spaces and tabs around it */
function trimmed(head: Buffer, span: Span): Span {
  let { start, end } = span;
  while (start < end && isBlank(head[start])) start++;
  while (end > start && isBlank(head[end - 1])) end--;
  return { start, end };
}

/** Whether the span is `lowerToken` in any case */
function isToken(head: Buffer, span: Span, lowerToken: Buffer): boolean {
  return span.end - span.start === lowerToken.length && namedAt(head, span.start, lowerToken);
}

/** The value as the slow path reads it: lower-cased, then trimmed as String.trim does */
function valueText(head: Buffer, span: Span): string {
  return head.toString("latin1", span.start, span.end).toLowerCase().trim();
}

/** The Content-Length value, read from its digits where it is plain, else from its text */
function contentLengthOf(head: Buffer, span: Span): number {
  const digits = trimmed(head, span);
  let value = 0;
  // Up to 15 digits stay exact as a double; anything else takes the text path.
  if (digits.end > digits.start && digits.end - digits.start <= 15) {
    for (let index = digits.start; index < digits.end; index++) {
      const digit = (head[index] as number) - 48;
      if (digit < 0 || digit > 9) return contentLengthFromText(valueText(head, span));
      value = value * 10 + digit;
    }
    return value;
  }
  return contentLengthFromText(valueText(head, span));
}

function contentLengthFromText(text: string): number {
  if (!/^\d+$/.test(text)) throw new ProtocolError(`bad Content-Length: ${JSON.stringify(text)}`);
  return Number(text);
}

/** "HTTP/1.x ddd" then a space, CR or the end of the head */
function isStatusLine(head: Buffer, end: number): boolean {
  if (end < 12) return false;
  for (let index = 0; index < httpVersionPrefix.length; index++) {
    if (head[index] !== httpVersionPrefix[index]) return false;
  }
  const minor = head[7];
  const [first, second, third] = [head[9] as number, head[10] as number, head[11] as number];
  return (
    (minor === 48 || minor === 49) &&
    head[8] === 0x20 &&
    first >= 49 &&
    first <= 57 &&
    second >= 48 &&
    second <= 57 &&
    third >= 48 &&
    third <= 57 &&
    (end === 12 || head[12] === 0x20 || head[12] === 0x0d)
  );
}

const httpVersionPrefix = Buffer.from("HTTP/1.", "latin1");

/** Whether `lowerName` and a colon start the line at `line`, inside the head */
function fieldAt(head: Buffer, line: number, end: number, lowerName: Buffer): boolean {
  return (
    line + lowerName.length < end && head[line + lowerName.length] === 0x3a && namedAt(head, line, lowerName)
  );
}

/** Whether the connection stays open after this response, from its Connection field */
function keepsAlive(head: Buffer, connection: Span | undefined, isHttp10: boolean): boolean {
  if (connection !== undefined) {
    const value = trimmed(head, connection);
    if (isToken(head, value, keepAliveToken)) return true;
    if (isToken(head, value, closeToken)) return false;
  }
  const text = connection === undefined ? "" : valueText(head, connection);
  return isHttp10 ? /\bkeep-alive\b/.test(text) : !/\bclose\b/.test(text);
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
  private readonly chunked = new ChunkedBodyReader((message) => new ProtocolError(message));

  /** Start reading the response to the next request; a HEAD response has no body whatever its headers say */
  reset(requestWasHead: boolean): void {
    this.status = 0;
    this.keepAlive = true;
    this.surplusBytes = 0;
    this.state = State.Head;
    this.bodyIsOmitted = requestWasHead;
    this.partialHead = null;
    this.remaining = 0;
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
        case State.Chunked:
          offset = this.chunked.read(chunk, offset, null);
          if (this.chunked.done) this.state = State.Done;
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
    this.parseHead(head, end);
    return offset + consumedFromChunk;
  }

  /**
   * Reads the head, bytes [0, end) of `head`, without making a string of it: a load generator
   * parses one per request, and the strings would cost more than the rest of its work. Field
   * names are case-insensitive and may not have space before the colon (RFC 9112); the first
   * of each field counts.
   */
  private parseHead(head: Buffer, end: number): void {
    if (!isStatusLine(head, end)) {
      throw new ProtocolError(
        `bad status line: ${JSON.stringify(head.toString("latin1", 0, Math.min(end, 40)))}`,
      );
    }
    const status =
      ((head[9] as number) - 48) * 100 + ((head[10] as number) - 48) * 10 + (head[11] as number) - 48;
    const isHttp10 = head[7] === 48; // "0"
    let contentLength: Span | undefined;
    let transferEncoding: Span | undefined;
    let connection: Span | undefined;
    /** The field whose value runs to the next CRLF */
    let open: Span | undefined;
    for (let index = 0; index + 1 < end; index++) {
      if (head[index] !== 0x0d || head[index + 1] !== 0x0a) continue;
      if (open !== undefined) open.end = index;
      open = undefined;
      const line = index + 2;
      index++;
      const first = (head[line] as number) | 0x20;
      if (first === 0x63 /* c */) {
        if (contentLength === undefined && fieldAt(head, line, end, contentLengthName)) {
          open = contentLength = { start: line + contentLengthName.length + 1, end };
        } else if (connection === undefined && fieldAt(head, line, end, connectionName)) {
          open = connection = { start: line + connectionName.length + 1, end };
        }
      } else if (first === 0x74 /* t */) {
        if (transferEncoding === undefined && fieldAt(head, line, end, transferEncodingName)) {
          open = transferEncoding = { start: line + transferEncodingName.length + 1, end };
        }
      }
    }
    const length = contentLength === undefined ? undefined : contentLengthOf(head, contentLength);
    const chunked =
      transferEncoding !== undefined && /(?:^|,)\s*chunked$/.test(valueText(head, transferEncoding));

    if (status < 200) {
      // An interim response (100 Continue, 103 Early Hints): the real one follows.
      this.state = State.Head;
      return;
    }
    this.status = status;
    this.keepAlive = keepsAlive(head, connection, isHttp10);
    if (this.bodyIsOmitted || status === 204 || status === 304) {
      this.state = State.Done;
    } else if (chunked) {
      this.chunked.reset();
      this.state = State.Chunked;
    } else if (length !== undefined) {
      this.remaining = length;
      this.state = this.remaining === 0 ? State.Done : State.FixedBody;
    } else {
      this.keepAlive = false;
      this.state = State.BodyUntilClose;
    }
  }
}
