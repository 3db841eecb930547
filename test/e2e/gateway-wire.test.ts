import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { frame } from './helpers/wire.js';

/** The WebSocket wire seen from a raw TCP socket: handshake refusals (RFC 6455 4.2) and framing rules (RFC 6455 5). */

const LIMIT = 1024;
let app: TestApp;
let token: string;
beforeAll(async () => {
  app = await createTestApp({ MAX_MESSAGE_BYTES: String(LIMIT) });
  token = (await registerUser(app.url, 'wire')).accessToken;
});
afterAll(async () => {
  await app?.close();
});

interface Frame { fin: boolean; opcode: number; payload: Buffer }

/** One TCP connection: collects bytes, answers "what has arrived so far" with a bounded wait. */
class Raw {
  private buf = Buffer.alloc(0);
  ended = false;
  private wake: () => void = () => {};
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => ((this.buf = Buffer.concat([this.buf, d])), this.wake()));
    socket.on('close', () => ((this.ended = true), this.wake()));
    socket.on('error', () => {});
  }

  static async request(head: string[]): Promise<Raw> {
    const socket = connect(app.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const raw = new Raw(socket);
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
    return raw;
  }

  /** Waits (at most 5 s) until `ready(bytes)` returns a value. */
  async until<T>(ready: (buf: Buffer, ended: boolean) => T | undefined, what: string): Promise<T> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const value = ready(this.buf, this.ended);
      if (value !== undefined) return value;
      if (this.ended || Date.now() > deadline) throw new Error(`${what}: got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.wake = () => (clearTimeout(t), resolve());
      });
    }
  }

  /** The HTTP response head: status and lower-cased headers; the bytes after it stay buffered as frames. */
  async response(): Promise<{ status: number; headers: Record<string, string>; head: string }> {
    const head = await this.until((b) => (b.includes('\r\n\r\n') ? b.subarray(0, b.indexOf('\r\n\r\n')).toString('latin1') : undefined), 'no HTTP response');
    this.buf = this.buf.subarray(head.length + 4);
    const [statusLine = '', ...lines] = head.split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]), headers, head };
  }

  /** The response body: Content-Length bytes, or everything until the server closes the connection. */
  async body(contentLength: string | undefined): Promise<Buffer> {
    const want = contentLength === undefined ? Infinity : Number(contentLength);
    return this.until((b, ended) => (b.length >= want || ended ? b.subarray(0, want) : undefined), 'incomplete response body');
  }

  /** Server frames (unmasked) until a close frame; returns its code (1005 if none) and the frames before it. */
  async closeFrame(): Promise<{ code: number; frames: Frame[] }> {
    return this.until((b, ended) => {
      const frames: Frame[] = [];
      let at = 0;
      while (b.length - at >= 2) {
        let len = (b[at + 1] ?? 0) & 0x7f;
        let off = at + 2;
        if (len === 126) {
          len = b.readUInt16BE(off);
          off += 2;
        } else if (len === 127) {
          len = Number(b.readBigUInt64BE(off));
          off += 8;
        }
        if (b.length < off + len) break;
        const frame = { fin: ((b[at] ?? 0) & 0x80) !== 0, opcode: (b[at] ?? 0) & 0x0f, payload: b.subarray(off, off + len) };
        if (frame.opcode === 8) return { code: len >= 2 ? frame.payload.readUInt16BE(0) : 1005, frames };
        frames.push(frame);
        at = off + len;
      }
      return ended ? { code: 1006, frames } : undefined;
    }, 'no close frame');
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }
}

const TEXT = 0x1;
const BINARY = 0x2;
const CONTINUATION = 0x0;

function upgradeHead(overrides: Record<string, string | undefined> = {}, requestLine = 'GET /ws HTTP/1.1'): string[] {
  const headers: Record<string, string | undefined> = {
    Host: `127.0.0.1:${app.port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    Authorization: `Bearer ${token}`,
    ...overrides,
  };
  return [requestLine, ...Object.entries(headers).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}`)];
}

/** A raw socket that completed the upgrade and received connection_established. */
async function opened(extra: Record<string, string> = {}): Promise<Raw> {
  const raw = await Raw.request(upgradeHead(extra));
  const res = await raw.response();
  expect(res.status).toBe(101);
  return raw;
}

async function refusal(head: string[]): Promise<{ status: number; headers: Record<string, string>; body: { error: { code: string } } }> {
  const raw = await Raw.request(head);
  const res = await raw.response();
  const rest = (await raw.body(res.headers['content-length'])).toString('utf8');
  raw.socket.destroy();
  expect(res.head).not.toMatch(/^HTTP\/1\.1 101/);
  expect(res.headers['sec-websocket-accept']).toBeUndefined();
  return { ...res, body: JSON.parse(rest) as { error: { code: string } } };
}

describe('handshake refusals are plain HTTP (RFC 6455 4.2.1 / 4.4)', () => {
  it('RFC 6455 4.2.1: a missing Sec-WebSocket-Key is 400', async () => {
    const res = await refusal(upgradeHead({ 'Sec-WebSocket-Key': undefined }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('RFC 6455 4.2.1: a Sec-WebSocket-Key that is not 16 base64 bytes is 400', async () => {
    for (const key of ['abc', 'not base64 at all!!', randomBytes(20).toString('base64'), randomBytes(8).toString('base64')]) {
      const res = await refusal(upgradeHead({ 'Sec-WebSocket-Key': key }));
      expect(res.status, key).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('RFC 6455 4.2.1: a missing Sec-WebSocket-Version, a wrong Upgrade or a Connection without Upgrade is 400', async () => {
    for (const bad of [{ 'Sec-WebSocket-Version': undefined }, { Upgrade: 'websocketx' }, { Connection: 'keep-alive' }]) {
      const res = await refusal(upgradeHead(bad));
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('RFC 6455 4.4: Sec-WebSocket-Version 8 is 426 with Sec-WebSocket-Version: 13', async () => {
    const res = await refusal(upgradeHead({ 'Sec-WebSocket-Version': '8' }));
    expect(res.status).toBe(426);
    expect(res.headers['sec-websocket-version']).toBe('13');
  });

  it('RFC 6455 4.2.1: an upgrade that is not a GET is 400', async () => {
    const res = await refusal(upgradeHead({ 'Content-Length': '0' }, 'POST /ws HTTP/1.1'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('CONTRACT WS: an upgrade on another path (/nope) is 404', async () => {
    const res = await refusal(upgradeHead({}, 'GET /nope HTTP/1.1'));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('RFC 6455 4.2.2: a valid upgrade is 101 with the right Sec-WebSocket-Accept', async () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const raw = await Raw.request(upgradeHead({ 'Sec-WebSocket-Key': key }));
    const res = await raw.response();
    expect(res.status).toBe(101);
    expect(res.headers['sec-websocket-accept']).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    raw.socket.destroy();
  });

  it('CONTRACT WS: permessage-deflate is not negotiated even when offered', async () => {
    const raw = await opened({ 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' });
    const { frames } = await raw.until((b) => (b.length > 0 ? { frames: [b] } : undefined), 'no first frame');
    expect(((frames[0]?.[0] ?? 0) & 0x40) === 0, 'RSV1 must not be set').toBe(true);
    raw.socket.destroy();
    const res = await Raw.request(upgradeHead({ 'Sec-WebSocket-Extensions': 'permessage-deflate' })).then((r) => r.response().finally(() => r.socket.destroy()));
    expect(res.headers['sec-websocket-extensions']).toBeUndefined();
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: true });
    expect(ws.ws.extensions).toBe('');
    ws.close();
  });
});

describe('framing after the upgrade (RFC 6455 5)', () => {
  it('CONTRACT WS: connection_established arrives first, as a text frame', async () => {
    const raw = await opened();
    raw.send(frame(0x8, Buffer.from([0x03, 0xe8])));
    const { code, frames } = await raw.closeFrame();
    expect(code).toBe(1000);
    expect(frames[0]?.opcode).toBe(TEXT);
    expect(JSON.parse(frames[0]?.payload.toString('utf8') ?? '')).toMatchObject({ type: 'connection_established' });
  });

  it('RFC 6455 7.4.1 / CONTRACT close codes: a binary frame closes 1003', async () => {
    const raw = await opened();
    raw.send(frame(BINARY, '{"type":"ping"}'));
    expect((await raw.closeFrame()).code).toBe(1003);
  });

  it('RFC 6455 8.1 / CONTRACT close codes: a text frame with invalid UTF-8 closes 1007', async () => {
    for (const bad of [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80])]) {
      const raw = await opened();
      raw.send(frame(TEXT, bad));
      expect((await raw.closeFrame()).code, bad.toString('hex')).toBe(1007);
    }
  });

  it('RFC 6455 8.1: invalid UTF-8 split across fragments closes 1007', async () => {
    const raw = await opened();
    raw.send(frame(TEXT, Buffer.from([0x22, 0xe2, 0x82]), { fin: false }), frame(CONTINUATION, Buffer.from([0x41, 0x22])));
    expect((await raw.closeFrame()).code).toBe(1007);
  });

  it('RFC 6455 5.1: an unmasked client frame closes 1002', async () => {
    const raw = await opened();
    raw.send(frame(TEXT, '{"type":"ping"}', { masked: false }));
    expect((await raw.closeFrame()).code).toBe(1002);
  });

  it('CONTRACT close codes: one frame over MAX_MESSAGE_BYTES closes 1009', async () => {
    const raw = await opened();
    raw.send(frame(TEXT, `{"type":"ping","pad":"${'x'.repeat(LIMIT)}"}`));
    expect((await raw.closeFrame()).code).toBe(1009);
  });

  it('CONTRACT WS: the limit applies to the reassembled message: small fragments totalling > MAX_MESSAGE_BYTES close 1009', async () => {
    const raw = await opened();
    const piece = 'x'.repeat(400); // 20 + 3 * 400 + 2 = 1222 bytes in all, every fragment under 1024
    raw.send(frame(TEXT, `{"type":"ping","p":"${piece}`, { fin: false }), frame(CONTINUATION, piece, { fin: false }), frame(CONTINUATION, piece, { fin: false }), frame(CONTINUATION, '"}'));
    expect((await raw.closeFrame()).code).toBe(1009);
  });

  it('RFC 6455 5.4: fragments within the limit are reassembled into one message (pong)', async () => {
    const raw = await opened();
    raw.send(frame(TEXT, '{"type":"pi', { fin: false }), frame(0x9, 'hb'), frame(CONTINUATION, 'ng","id":"fr', { fin: false }), frame(CONTINUATION, 'ag"}'));
    raw.send(frame(0x8, Buffer.from([0x03, 0xe8])));
    const { code, frames } = await raw.closeFrame();
    expect(code).toBe(1000);
    const texts = frames.filter((f) => f.opcode === TEXT).map((f) => JSON.parse(f.payload.toString('utf8')) as { type: string });
    expect(texts).toContainEqual({ type: 'pong', replyTo: 'frag' });
    expect(frames.some((f) => f.opcode === 0xa && f.payload.toString() === 'hb'), 'a ping inside a fragmented message gets its pong').toBe(true);
  });

  it('CONTRACT close codes (ws client): exactly MAX_MESSAGE_BYTES is accepted, one byte more closes 1009', async () => {
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${token}` } });
    const exact = '{"type":"ping","id":"edge"}';
    ws.send(exact + ' '.repeat(LIMIT - exact.length));
    expect(await ws.next((m) => m.type === 'pong', 5_000)).toMatchObject({ replyTo: 'edge' });
    ws.send(exact + ' '.repeat(LIMIT - exact.length + 1));
    expect((await ws.waitClose(5_000)).code).toBe(1009);
  });

  it('CONTRACT close codes (ws client): a binary message closes 1003', async () => {
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${token}` } });
    ws.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect((await ws.waitClose(5_000)).code).toBe(1003);
    expect(ws.ws.readyState).toBe(WebSocket.CLOSED);
  });
});
