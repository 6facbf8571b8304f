/**
 * An incremental HTTP/1.1 response parser for the stage proxy's upstream connections (RFC 9112).
 * Unlike the load generator's parser (`src/loadgen/response-parser.ts`, which only needs where a
 * response ends), the proxy must pass the head on as a raw header list and the body on as it
 * arrives, so this one hands out the header lines and body slices (chunked bodies decoded; the
 * server side frames them again for its own client). Body slices share the socket's buffers: no
 * copy, however large the body.
 *
 * Framing that could let two readers disagree on where a response ends (both Content-Length and
 * Transfer-Encoding, differing Content-Length lines, obsolete line folding) is an error, not a
 * guess: the proxy answers 502 and drops the connection.
 */
import { ChunkedBodyReader } from "../http/chunked-body.js";

const MAX_HEAD_BYTES = 64 * 1024;
const CRLF_CRLF = Buffer.from("\r\n\r\n", "latin1");
const STATUS_LINE = /^HTTP\/1\.[01] \d{3}(?: |$)/;
// Controls other than tab, and CR or LF anywhere but in a line's CRLF
// eslint-disable-next-line no-control-regex
const BAD_HEAD_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const CLOSE_TOKEN = /,\s*close\s*(?:,|$)/;
const KEEP_ALIVE_TOKEN = /,\s*keep-alive\s*(?:,|$)/;

export class UpstreamProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamProtocolError";
  }
}

export interface UpstreamResponseHead {
  status: number;
  /** The reason phrase; empty when the status line has none */
  reason: string;
  /** name, value, name, value… in arrival order, names as sent */
  rawHeaders: string[];
}

/** What the parser tells about one response, in this order: head, body slices, end. */
export interface ResponseListener {
  onHead(head: UpstreamResponseHead): void;
  onBody(chunk: Buffer): void;
  /** The response is complete; `last` is its final body slice when one arrived with the end. */
  onEnd(last: Buffer | undefined): void;
}

const enum State {
  Head,
  FixedBody,
  Chunked,
  BodyUntilClose,
  Done,
}

export class UpstreamResponseParser {
  /** After the end: whether the connection may carry another request */
  keepAlive = true;
  /** After the end: bytes that followed the response (with no pipelining, a broken server) */
  surplus = 0;

  private state = State.Done;
  private bodyOmitted = false;
  private partialHead: Buffer | null = null;
  private remaining = 0;
  private readonly chunked = new ChunkedBodyReader((message) => new UpstreamProtocolError(message));
  private readonly passChunkData = (data: Buffer): void => this.listener.onBody(data);

  constructor(private readonly listener: ResponseListener) {}

  /** Reads the response to the next request; a HEAD request's response has no body. */
  expect(requestIsHead: boolean): void {
    this.keepAlive = true;
    this.surplus = 0;
    this.state = State.Head;
    this.bodyOmitted = requestIsHead;
    this.partialHead = null;
    this.remaining = 0;
  }

  /** True once the response is complete */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** Whether the response ends only when the server closes the connection */
  get endsAtClose(): boolean {
    return this.state === State.BodyUntilClose;
  }

  /** Throws UpstreamProtocolError on a malformed response. */
  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.state) {
        case State.Head:
          offset = this.readHead(chunk, offset);
          break;
        case State.FixedBody:
          offset = this.readFixed(chunk, offset);
          break;
        case State.Chunked:
          offset = this.chunked.read(chunk, offset, this.passChunkData);
          // Trailer fields are not forwarded (node's server would not send them unasked).
          if (this.chunked.done) this.finish(undefined);
          break;
        case State.BodyUntilClose:
          this.listener.onBody(offset === 0 ? chunk : chunk.subarray(offset));
          return;
        case State.Done:
          this.surplus += chunk.length - offset;
          return;
      }
    }
  }

  /** The server closed the connection; true when that ended the response (a body delimited by close). */
  closed(): boolean {
    if (this.state !== State.BodyUntilClose) return false;
    this.finish(undefined);
    return true;
  }

  private finish(last: Buffer | undefined): void {
    this.state = State.Done;
    this.listener.onEnd(last);
  }

  private readHead(chunk: Buffer, offset: number): number {
    let head = offset === 0 ? chunk : chunk.subarray(offset);
    let searchFrom = 0;
    const before = this.partialHead;
    if (before !== null) {
      // The terminator may straddle the two pieces.
      searchFrom = Math.max(0, before.length - 3);
      head = Buffer.concat([before, head]);
    }
    const end = head.indexOf(CRLF_CRLF, searchFrom);
    if (end === -1) {
      if (head.length > MAX_HEAD_BYTES)
        throw new UpstreamProtocolError(`response head exceeds ${MAX_HEAD_BYTES} bytes`);
      this.partialHead = head;
      return chunk.length;
    }
    this.partialHead = null;
    this.parseHead(head.toString("latin1", 0, end));
    return offset + end + 4 - (before === null ? 0 : before.length);
  }

  private parseHead(text: string): void {
    // One scan of the whole head; names and values that go on are checked again by node's
    // writeHead, which refuses what it could not send (the proxy answers 502).
    if (BAD_HEAD_CHAR.test(text)) throw new UpstreamProtocolError("a control character in the response head");
    let lineEnd = text.indexOf("\r\n");
    const firstLine = lineEnd === -1 ? text : text.slice(0, lineEnd);
    if (!STATUS_LINE.test(firstLine))
      throw new UpstreamProtocolError(`bad status line: ${JSON.stringify(firstLine.slice(0, 40))}`);
    const status = Number(firstLine.slice(9, 12));
    const http10 = firstLine.charCodeAt(7) === 48; // "0"
    const rawHeaders: string[] = [];
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection = "";
    while (lineEnd !== -1) {
      const lineStart = lineEnd + 2;
      lineEnd = text.indexOf("\r\n", lineStart);
      const end = lineEnd === -1 ? text.length : lineEnd;
      // Positions in the head itself: no string per line, only its name and value.
      const colon = text.indexOf(":", lineStart);
      const first = text.charCodeAt(lineStart);
      // No name, or a continuation line (obsolete folding, RFC 9112 §5.2)
      if (colon <= lineStart || colon >= end || first === 32 || first === 9)
        throw new UpstreamProtocolError(
          `bad header line: ${JSON.stringify(text.slice(lineStart, Math.min(end, lineStart + 40)))}`,
        );
      const name = text.slice(lineStart, colon);
      const value = text.slice(colon + 1, end).trim();
      rawHeaders.push(name, value);
      // Lengths first: most names are none of these three.
      if (name.length === 14 && name.toLowerCase() === "content-length") {
        if (contentLength !== undefined && contentLength !== value)
          throw new UpstreamProtocolError("differing Content-Length headers");
        contentLength = value;
      } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      } else if (name.length === 10 && name.toLowerCase() === "connection") {
        connection += `,${value.toLowerCase()}`;
      }
    }
    if (status < 200) {
      // 101 would switch protocols, which a proxy refusing upgrades never asked for.
      if (status === 101) throw new UpstreamProtocolError("101 Switching Protocols without an upgrade");
      // An interim response (100 Continue, 103 Early Hints): the final one follows.
      this.state = State.Head;
      return;
    }
    if (contentLength !== undefined && !/^\d{1,15}$/.test(contentLength))
      throw new UpstreamProtocolError(`bad Content-Length: ${JSON.stringify(contentLength.slice(0, 40))}`);
    if (contentLength !== undefined && transferEncoding !== undefined)
      throw new UpstreamProtocolError("both Content-Length and Transfer-Encoding");
    this.keepAlive = http10 ? KEEP_ALIVE_TOKEN.test(connection) : !CLOSE_TOKEN.test(connection);
    this.listener.onHead({ status, reason: firstLine.slice(13), rawHeaders });
    if (this.bodyOmitted || status === 204 || status === 304) {
      this.finish(undefined);
    } else if (transferEncoding !== undefined) {
      if (/(?:^|,)\s*chunked\s*$/i.test(transferEncoding)) {
        this.chunked.reset();
        this.state = State.Chunked;
      } else {
        this.keepAlive = false;
        this.state = State.BodyUntilClose;
      }
    } else if (contentLength !== undefined) {
      this.remaining = Number(contentLength);
      if (this.remaining === 0) this.finish(undefined);
      else this.state = State.FixedBody;
    } else {
      this.keepAlive = false;
      this.state = State.BodyUntilClose;
    }
  }

  private readFixed(chunk: Buffer, offset: number): number {
    const available = chunk.length - offset;
    if (available < this.remaining) {
      this.remaining -= available;
      this.listener.onBody(offset === 0 ? chunk : chunk.subarray(offset));
      return chunk.length;
    }
    const end = offset + this.remaining;
    this.remaining = 0;
    this.finish(chunk.subarray(offset, end));
    return end;
  }
}
