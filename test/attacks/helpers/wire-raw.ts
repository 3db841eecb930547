import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A raw TCP client for the WebSocket and HTTP attack modules (handshake, framing, ticket-replay, cswsh,
 * oversized-bodies): where a property lives in the bytes, a friendlier library would hide it. Every wait is bounded.
 */

/** A frame as the server sent it (server frames should be unmasked, RSV 0). */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  masked: boolean;
  opcode: number;
  payload: Buffer;
}

/** After some bytes: a close frame arrived (`closed`), TCP ended without one (`dropped`), or still `open`. */
export type Outcome =
  | { kind: 'closed'; code: number; frames: ServerFrame[] }
  | { kind: 'dropped'; frames: ServerFrame[] }
  | { kind: 'open'; frames: ServerFrame[] };

export interface HttpHead {
  status: number;
  headers: Record<string, string>;
  head: string;
}

export const TEXT = 0x1;
export const BINARY = 0x2;
export const CONTINUATION = 0x0;

/** One TCP connection: collects bytes and answers "what has arrived so far" with a bounded wait. */
export class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  ended = false;
  private wake: () => void = () => {};
  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => ((this.buf = Buffer.concat([this.buf, d])), this.wake()));
    socket.on('close', () => ((this.ended = true), this.wake()));
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  /** Connects and writes an HTTP request head (lines without the final blank line). */
  static async request(port: number, head: string[]): Promise<RawClient> {
    const raw = await RawClient.connect(port);
    raw.socket.write(`${head.join('\r\n')}\r\n\r\n`);
    return raw;
  }

  /** Waits until `ready(bytes, ended)` gives a value, the connection ends, or `ms` pass (then undefined). */
  async poll<T>(ready: (buf: Buffer, ended: boolean) => T | undefined, ms: number): Promise<T | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = ready(this.buf, this.ended);
      if (value !== undefined || this.ended || Date.now() > deadline) return value;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, Math.min(50, deadline - Date.now())));
        this.wake = () => (clearTimeout(t), resolve());
      });
    }
  }

  /** Like poll, but a missing value fails the test, quoting what did arrive. */
  async expect<T>(ready: (buf: Buffer, ended: boolean) => T | undefined, what: string, ms = 5_000): Promise<T> {
    const value = await this.poll(ready, ms);
    if (value === undefined)
      throw new Error(`${what}: got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
    return value;
  }

  /** The HTTP response head: status and lower-cased headers; the bytes after it stay buffered (frames or body). */
  async response(): Promise<HttpHead> {
    const head = await this.expect(
      (b) => (b.includes('\r\n\r\n') ? b.subarray(0, b.indexOf('\r\n\r\n')).toString('latin1') : undefined),
      'no HTTP response',
    );
    this.buf = this.buf.subarray(head.length + 4);
    return parseHead(head);
  }

  /** The response body: Content-Length bytes, or everything until the server closes the connection. */
  async body(contentLength: string | undefined): Promise<Buffer> {
    const want = contentLength === undefined ? Infinity : Number(contentLength);
    return this.expect(
      (b, ended) => (b.length >= want || ended ? b.subarray(0, want) : undefined),
      'incomplete response body',
    );
  }

  /** The server's frames, up to and including a close frame: closed, dropped (TCP end, no close frame) or still open after `ms`. */
  async outcome(ms: number): Promise<Outcome> {
    const done = await this.poll((b, ended) => parseFrames(b, ended), ms);
    return done ?? { kind: 'open', frames: parseFrames(this.buf, true)?.frames ?? [] };
  }

  /** The close code (1006 when TCP ended without a close frame) and the frames before it; fails after 5 s. */
  async closeFrame(): Promise<{ code: number; frames: ServerFrame[] }> {
    const out = await this.outcome(5_000);
    if (out.kind === 'open')
      throw new Error(`no close frame: got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
    return out.kind === 'closed'
      ? { code: out.code, frames: out.frames.slice(0, -1) }
      : { code: 1006, frames: out.frames };
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Writes the bytes in the given pieces, letting the server read between them. */
  async write(pieces: Buffer[]): Promise<void> {
    for (const piece of pieces) {
      if (this.ended) return;
      this.socket.write(piece);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function parseHead(head: string): HttpHead {
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const name = l.slice(0, l.indexOf(':')).trim().toLowerCase();
    const value = l.slice(l.indexOf(':') + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]), headers, head };
}

function parseFrames(b: Buffer, ended: boolean): Outcome | undefined {
  const frames: ServerFrame[] = [];
  let at = 0;
  while (b.length - at >= 2) {
    const b0 = b[at] ?? 0;
    const b1 = b[at + 1] ?? 0;
    let len = b1 & 0x7f;
    let off = at + 2;
    if (len === 126) {
      if (b.length < off + 2) break;
      len = b.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      if (b.length < off + 8) break;
      len = Number(b.readBigUInt64BE(off));
      off += 8;
    }
    if ((b1 & 0x80) !== 0) off += 4;
    if (b.length < off + len) break;
    const frame = {
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 0x7,
      masked: (b1 & 0x80) !== 0,
      opcode: b0 & 0x0f,
      payload: b.subarray(off, off + len),
    };
    frames.push(frame);
    if (frame.opcode === 8) return { kind: 'closed', code: len >= 2 ? frame.payload.readUInt16BE(0) : 1005, frames };
    at = off + len;
  }
  return ended ? { kind: 'dropped', frames } : undefined;
}

/** A valid upgrade request head for /ws with an Authorization header; `undefined` in `overrides` removes a header. */
export function upgradeHead(
  port: number,
  token: string | undefined,
  overrides: Record<string, string | undefined> = {},
  requestLine = 'GET /ws HTTP/1.1',
): string[] {
  const headers: Record<string, string | undefined> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    Authorization: token === undefined ? undefined : `Bearer ${token}`,
    ...overrides,
  };
  return [
    requestLine,
    ...Object.entries(headers)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}: ${v}`),
  ];
}

/** A raw socket that completed the upgrade (101); connection_established is still buffered as its first frame. */
export async function openRaw(port: number, token: string, extra: Record<string, string> = {}): Promise<RawClient> {
  const raw = await RawClient.request(port, upgradeHead(port, token, extra));
  const res = await raw.response();
  if (res.status !== 101) {
    raw.destroy();
    throw new Error(`upgrade refused: ${res.head.split('\r\n')[0]}`);
  }
  return raw;
}

export interface RawAnswer extends HttpHead {
  body: string;
}

/** Sends bytes on a fresh connection and reads one HTTP answer (head and body); never 101. */
export async function rawHttp(port: number, bytes: string | Buffer): Promise<RawAnswer> {
  const raw = await RawClient.connect(port);
  try {
    raw.socket.write(bytes);
    const res = await raw.response();
    const body = await raw.body(res.headers['content-length']);
    return { ...res, body: body.toString('utf8') };
  } finally {
    raw.destroy();
  }
}

/** A client frame as a spec, with the length written in its shortest form or a longer one (RFC 6455 §5.2 wants the shortest). */
export interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
  lengthForm: 'shortest' | '16' | '64';
}

export function encode(f: FrameSpec): Buffer {
  const data = Buffer.from(f.payload);
  const len = data.length;
  const form =
    f.lengthForm === 'shortest'
      ? len < 126
        ? '7'
        : len < 65_536
          ? '16'
          : '64'
      : f.lengthForm === '16' && len < 65_536
        ? '16'
        : f.lengthForm === '64'
          ? '64'
          : len < 126
            ? '7'
            : len < 65_536
              ? '16'
              : '64';
  const head = form === '7' ? Buffer.from([0, len]) : form === '16' ? Buffer.alloc(4) : Buffer.alloc(10);
  if (form === '16') {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else if (form === '64') {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (f.fin ? 0x80 : 0) | ((f.rsv & 0x7) << 4) | (f.opcode & 0x0f);
  if (!f.masked) return Buffer.concat([head, data]);
  head[1] = (head[1] ?? 0) | 0x80;
  const mask = randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = (data[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([head, mask, body]);
}

/** A masked close frame carrying `code`. */
export const closeFrame = (code: number): Buffer =>
  encode({
    fin: true,
    rsv: 0,
    opcode: 8,
    masked: true,
    payload: Buffer.from([code >> 8, code & 0xff]),
    lengthForm: 'shortest',
  });
