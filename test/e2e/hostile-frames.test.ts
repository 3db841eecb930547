import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';

/**
 * Raw, hostile WebSocket frames after a valid upgrade (RFC 6455 5 / CONTRACT close codes): random opcodes including
 * reserved ones, RSV bits, control frames over 125 bytes, fragments out of order, invalid UTF-8, truncated frames,
 * bytes split at random points. The server either keeps the connection or closes it with a protocol close code
 * (1002, 1003, 1007, 1009, or the echo of a close the client sent itself), never answers `internal_error`, never
 * leaks the connection, and keeps serving: a fresh user can still register, connect and finish a run.
 * fast-check prints the seed on failure; rerun with FC_SEED=<seed> (and FC_PATH=<path>).
 */

const FC_OPTIONS = {
  ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
};

const LIMIT = 4096;
let app: TestApp;
let token: string;
beforeAll(async () => {
  // Connection, handshake and message rate limits are lifted: every attempt must reach the frame parser.
  app = await createTestApp({
    MAX_MESSAGE_BYTES: String(LIMIT),
    HANDSHAKES_PER_MINUTE: '1000000',
    MAX_CONNECTIONS_PER_USER: '10000',
    WS_MESSAGES_PER_SECOND: '100000',
    WS_MESSAGE_BURST: '1000000',
  });
  token = (await registerUser(app.url, 'frames')).accessToken;
});
afterAll(async () => {
  await app?.close();
});

// ---------------------------------------------------------------------------------------------------------------
// A raw TCP client (the same approach as gateway-wire.test.ts).

interface ServerFrame { fin: boolean; rsv: number; masked: boolean; opcode: number; payload: Buffer }
type Outcome = { kind: 'closed'; code: number; frames: ServerFrame[] } | { kind: 'dropped'; frames: ServerFrame[] } | { kind: 'open'; frames: ServerFrame[] };

class Raw {
  private buf: Buffer = Buffer.alloc(0);
  ended = false;
  private wake: () => void = () => {};
  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => ((this.buf = Buffer.concat([this.buf, d])), this.wake()));
    socket.on('close', () => ((this.ended = true), this.wake()));
    socket.on('error', () => {});
  }

  /** Upgrades with the bearer token and consumes the 101 response head. */
  static async open(): Promise<Raw> {
    const socket = connect(app.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const raw = new Raw(socket);
    const head = [
      'GET /ws HTTP/1.1',
      `Host: 127.0.0.1:${app.port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      `Authorization: Bearer ${token}`,
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
    const status = await raw.until((b) => {
      const end = b.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const line = b.subarray(0, b.indexOf('\r\n')).toString('latin1');
      raw.buf = b.subarray(end + 4);
      return line;
    }, 5_000);
    if (status === undefined || !status.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${status}`);
    return raw;
  }

  /** Waits until `ready(bytes)` gives a value, or `ms` pass (undefined). */
  async until<T>(ready: (buf: Buffer, ended: boolean) => T | undefined, ms: number): Promise<T | undefined> {
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

  /** The server's frames, up to and including a close frame: closed, dropped (TCP end, no close frame) or still open after `ms`. */
  async outcome(ms: number): Promise<Outcome> {
    const parse = (b: Buffer, ended: boolean): Outcome | undefined => {
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
        const frame = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x7, masked: (b1 & 0x80) !== 0, opcode: b0 & 0x0f, payload: b.subarray(off, off + len) };
        frames.push(frame);
        if (frame.opcode === 8) return { kind: 'closed', code: len >= 2 ? frame.payload.readUInt16BE(0) : 1005, frames };
        at = off + len;
      }
      return ended ? { kind: 'dropped', frames } : undefined;
    };
    const done = await this.until(parse, ms);
    return done ?? { kind: 'open', frames: parse(this.buf, true)?.frames ?? [] };
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

// ---------------------------------------------------------------------------------------------------------------
// Frames.

interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
  /** How the length is written: the shortest form, or a longer form than needed (RFC 6455 5.2 says shortest). */
  lengthForm: 'shortest' | '16' | '64';
}

function encode(f: FrameSpec): Buffer {
  const data = Buffer.from(f.payload);
  const len = data.length;
  const form = f.lengthForm === 'shortest' ? (len < 126 ? '7' : len < 65_536 ? '16' : '64') : f.lengthForm === '16' && len < 65_536 ? '16' : f.lengthForm === '64' ? '64' : len < 126 ? '7' : len < 65_536 ? '16' : '64';
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

const closeFrame = (code: number): Buffer => encode({ fin: true, rsv: 0, opcode: 8, masked: true, payload: Buffer.from([code >> 8, code & 0xff]), lengthForm: 'shortest' });

const INVALID_UTF8 = [[0xff], [0xfe], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xc3]];

const textPayload = fc.oneof(
  fc.constantFrom('{"type":"ping","id":"raw"}', '{"type":"ping"', 'not json', '', '{"type":"nope"}', '"just a string"', '[[[[[[[[[[]]]]]]]]]]'),
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
).map((s) => new Uint8Array(Buffer.from(s)));

const invalidUtf8Payload = fc
  .record({ before: fc.string({ maxLength: 20 }), bad: fc.constantFrom(...INVALID_UTF8), after: fc.string({ maxLength: 20 }) })
  .map(({ before, bad, after }) => new Uint8Array(Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)])));

const closePayload = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.constant(new Uint8Array([0x03])),
  fc
    .record({
      code: fc.oneof(fc.constantFrom(0, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 2999, 3000, 4000, 4999, 5000, 65535), fc.integer({ min: 0, max: 65535 })),
      reason: fc.oneof(fc.string({ maxLength: 30 }).map((s) => Buffer.from(s)), fc.constantFrom(...INVALID_UTF8).map((b) => Buffer.from(b)), fc.constant(Buffer.alloc(124, 0x61))),
    })
    .map(({ code, reason }) => new Uint8Array(Buffer.concat([Buffer.from([code >> 8, code & 0xff]), reason]))),
);

const payload = (opcode: number): fc.Arbitrary<Uint8Array> =>
  opcode === 8
    ? closePayload
    : fc.oneof(
        { arbitrary: textPayload, weight: 4 },
        { arbitrary: invalidUtf8Payload, weight: 1 },
        { arbitrary: fc.uint8Array({ maxLength: 125 }), weight: 2 },
        // control frames over 125 bytes, data near and over the message limit
        { arbitrary: fc.integer({ min: 126, max: 300 }).map((n) => new Uint8Array(n).fill(0x61)), weight: opcode >= 8 ? 1 : 0 },
        { arbitrary: fc.integer({ min: LIMIT - 10, max: LIMIT + 500 }).map((n) => new Uint8Array(n).fill(0x20)), weight: opcode >= 8 ? 0 : 1 },
      );

const opcodeArb = fc.oneof(
  { arbitrary: fc.constantFrom(0x1, 0x1, 0x1, 0x1, 0x0, 0x2, 0x8, 0x9, 0x9, 0xa, 0xa), weight: 12 },
  { arbitrary: fc.constantFrom(0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf), weight: 1 },
);

/** Mostly frames a parser must accept, so that sequences get deep; now and then one protocol violation. */
const frameArb: fc.Arbitrary<FrameSpec> = opcodeArb.chain((opcode) =>
  fc.record({
    fin: opcode >= 8 ? fc.oneof({ arbitrary: fc.constant(true), weight: 15 }, { arbitrary: fc.constant(false), weight: 1 }) : fc.oneof({ arbitrary: fc.constant(true), weight: 6 }, { arbitrary: fc.constant(false), weight: 1 }),
    rsv: fc.oneof({ arbitrary: fc.constant(0), weight: 15 }, { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 1 }),
    opcode: fc.constant(opcode),
    masked: fc.oneof({ arbitrary: fc.constant(true), weight: 25 }, { arbitrary: fc.constant(false), weight: 1 }),
    payload: payload(opcode),
    lengthForm: opcode >= 8 ? fc.oneof({ arbitrary: fc.constant('shortest' as const), weight: 15 }, { arbitrary: fc.constantFrom('16' as const, '64' as const), weight: 1 }) : fc.constantFrom('shortest', 'shortest', 'shortest', '16', '64'),
  }),
);

/** Fragmented text messages, in order or shuffled (continuations first, a second start), a ping between fragments. */
const shuffledFragments: fc.Arbitrary<FrameSpec[]> = fc
  .record({ text: fc.string({ minLength: 3, maxLength: 60 }), cuts: fc.integer({ min: 2, max: 5 }), order: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }), shuffle: fc.boolean(), ping: fc.boolean() })
  .map(({ text, cuts, order, shuffle, ping }) => {
    const bytes = Buffer.from(`{"type":"ping","id":${JSON.stringify(text)}}`);
    const size = Math.ceil(bytes.length / cuts);
    const frames: FrameSpec[] = [];
    for (let i = 0; i * size < bytes.length; i++) {
      const last = (i + 1) * size >= bytes.length;
      frames.push({ fin: last, rsv: 0, opcode: i === 0 ? 1 : 0, masked: true, payload: bytes.subarray(i * size, (i + 1) * size), lengthForm: 'shortest' });
    }
    if (ping) frames.splice(1, 0, { fin: true, rsv: 0, opcode: 9, masked: true, payload: Buffer.from('hb'), lengthForm: 'shortest' });
    if (!shuffle) return frames;
    // A stable shuffle driven by `order`.
    return frames.map((f, i) => ({ f, k: order[i % order.length] ?? i })).sort((a, b) => a.k - b.k).map((x) => x.f);
  });

interface Barrage {
  frames: FrameSpec[];
  /** After the frames: a valid close 1000, nothing, or cut the last `truncate` bytes off. */
  ending: { kind: 'close' } | { kind: 'none' } | { kind: 'truncate'; bytes: number };
  /** Where the byte stream is split into separate writes (fractions of its length). */
  splits: number[];
}

const barrageArb: fc.Arbitrary<Barrage> = fc.record({
  frames: fc.oneof({ arbitrary: fc.array(frameArb, { minLength: 1, maxLength: 6 }), weight: 4 }, { arbitrary: shuffledFragments, weight: 1 }),
  ending: fc.oneof(
    { arbitrary: fc.constant({ kind: 'close' as const }), weight: 3 },
    { arbitrary: fc.constant({ kind: 'none' as const }), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: 20 }).map((bytes) => ({ kind: 'truncate' as const, bytes })), weight: 1 },
  ),
  splits: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
});

const PROTOCOL_CLOSE_CODES = new Set([1002, 1003, 1007, 1009]);
/** Close codes a server may echo back (RFC 6455 7.4; ws echoes a valid code the client sent). */
const isEchoable = (code: number): boolean => (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);

function describeFrames(frames: FrameSpec[]): string {
  return frames.map((f) => `{fin:${f.fin},rsv:${f.rsv},op:${f.opcode},masked:${f.masked},len:${f.payload.length},form:${f.lengthForm},head:${Buffer.from(f.payload.subarray(0, 24)).toString('hex')}}`).join(' ');
}

async function connectionCount(): Promise<number> {
  const res = await request<{ connections: number }>(app.url, 'GET', '/ws/health');
  return res.body.connections;
}

async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('hostile raw frames (RFC 6455 5 / CONTRACT close codes)', () => {
  it('fixed cases: reserved opcodes, RSV bits, long control frames, stray continuations, fragmented control frames, huge 64-bit lengths', async () => {
    const cases: Array<{ name: string; bytes: Buffer; codes: number[] }> = [
      { name: 'reserved opcode 0x3', bytes: encode({ fin: true, rsv: 0, opcode: 0x3, masked: true, payload: Buffer.from('x'), lengthForm: 'shortest' }), codes: [1002] },
      { name: 'reserved control opcode 0xb', bytes: encode({ fin: true, rsv: 0, opcode: 0xb, masked: true, payload: Buffer.alloc(0), lengthForm: 'shortest' }), codes: [1002] },
      { name: 'RSV1 on a text frame', bytes: encode({ fin: true, rsv: 4, opcode: 1, masked: true, payload: Buffer.from('{"type":"ping"}'), lengthForm: 'shortest' }), codes: [1002] },
      { name: 'RSV3 on a ping', bytes: encode({ fin: true, rsv: 1, opcode: 9, masked: true, payload: Buffer.alloc(0), lengthForm: 'shortest' }), codes: [1002] },
      { name: 'ping of 126 bytes', bytes: encode({ fin: true, rsv: 0, opcode: 9, masked: true, payload: Buffer.alloc(126, 1), lengthForm: 'shortest' }), codes: [1002] },
      { name: 'close of 126 bytes', bytes: encode({ fin: true, rsv: 0, opcode: 8, masked: true, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.alloc(124, 0x61)]), lengthForm: 'shortest' }), codes: [1002] },
      { name: 'continuation with nothing to continue', bytes: encode({ fin: true, rsv: 0, opcode: 0, masked: true, payload: Buffer.from('x'), lengthForm: 'shortest' }), codes: [1002] },
      { name: 'fragmented ping', bytes: encode({ fin: false, rsv: 0, opcode: 9, masked: true, payload: Buffer.from('x'), lengthForm: 'shortest' }), codes: [1002] },
      {
        name: 'a new text frame inside a fragmented message',
        bytes: Buffer.concat([encode({ fin: false, rsv: 0, opcode: 1, masked: true, payload: Buffer.from('{"a"'), lengthForm: 'shortest' }), encode({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.from('{}'), lengthForm: 'shortest' })]),
        codes: [1002],
      },
      { name: 'close code 1005 on the wire', bytes: closeFrame(1005), codes: [1002] },
      { name: 'close code 999', bytes: closeFrame(999), codes: [1002] },
      { name: 'close with a 1-byte payload', bytes: encode({ fin: true, rsv: 0, opcode: 8, masked: true, payload: Buffer.from([3]), lengthForm: 'shortest' }), codes: [1002] },
      { name: 'close reason with invalid UTF-8', bytes: encode({ fin: true, rsv: 0, opcode: 8, masked: true, payload: Buffer.from([0x03, 0xe8, 0xff]), lengthForm: 'shortest' }), codes: [1007] },
      { name: 'declared 64-bit length of 2^62', bytes: Buffer.concat([Buffer.from([0x81, 0xff]), Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0]), randomBytes(4), Buffer.from('x')]), codes: [1009, 1002] },
      { name: 'declared 64-bit length of 2^40', bytes: Buffer.concat([Buffer.from([0x81, 0xff]), Buffer.from([0, 0, 0x01, 0, 0, 0, 0, 0]), randomBytes(4), Buffer.from('x')]), codes: [1009] },
      { name: 'binary frame', bytes: encode({ fin: true, rsv: 0, opcode: 2, masked: true, payload: Buffer.from([1, 2, 3]), lengthForm: 'shortest' }), codes: [1003] },
      { name: 'invalid UTF-8 text', bytes: encode({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.from([0x7b, 0xff, 0x7d]), lengthForm: 'shortest' }), codes: [1007] },
    ];
    for (const c of cases) {
      const raw = await Raw.open();
      await raw.write([c.bytes]);
      const out = await raw.outcome(3_000);
      raw.destroy();
      expect(out.kind, c.name).toBe('closed');
      if (out.kind === 'closed') expect(c.codes, `${c.name}: closed ${out.code}`).toContain(out.code);
    }
  });

  it('property: any barrage of frames ends in a protocol close code or an open connection, never an internal error', async () => {
    await fc.assert(
      fc.asyncProperty(barrageArb, async (barrage) => {
        let stream = Buffer.concat(barrage.frames.map(encode));
        if (barrage.ending.kind === 'close') stream = Buffer.concat([stream, closeFrame(1000)]);
        if (barrage.ending.kind === 'truncate') stream = stream.subarray(0, Math.max(1, stream.length - barrage.ending.bytes));
        const cuts = [...new Set(barrage.splits.map((s) => Math.floor(s * stream.length)))].filter((c) => c > 0 && c < stream.length).sort((a, b) => a - b);
        const pieces = [0, ...cuts].map((start, i) => stream.subarray(start, cuts[i] ?? stream.length));

        const allowed = new Set(PROTOCOL_CLOSE_CODES);
        for (const f of barrage.frames) {
          if (f.opcode !== 8) continue;
          if (f.payload.length === 0) allowed.add(1005);
          if (f.payload.length >= 2) {
            const code = Buffer.from(f.payload).readUInt16BE(0);
            if (isEchoable(code)) allowed.add(code);
          }
        }
        if (barrage.ending.kind === 'close') allowed.add(1000);

        const raw = await Raw.open();
        try {
          await raw.write(pieces);
          // With a well-formed close at the end the server must answer with a close frame; otherwise it may wait.
          const out = await raw.outcome(barrage.ending.kind === 'close' ? 3_000 : 150);
          const what = `${describeFrames(barrage.frames)} ending ${JSON.stringify(barrage.ending)}`;
          if (out.kind === 'dropped') throw new Error(`the server dropped TCP without a close frame after ${what}`);
          if (out.kind === 'open' && barrage.ending.kind === 'close') throw new Error(`no close frame in answer to a client close after ${what}`);
          if (out.kind === 'closed' && !allowed.has(out.code)) throw new Error(`closed ${out.code} (allowed ${[...allowed].join(',')}) after ${what}`);
          for (const f of out.frames) {
            if (f.masked || f.rsv !== 0) throw new Error(`server frame masked or with RSV bits after ${what}`);
            if (f.opcode === 1) {
              const msg = JSON.parse(f.payload.toString('utf8')) as { type?: string; code?: string };
              if (msg.code === 'internal_error') throw new Error(`internal_error after ${what}`);
              if (msg.type === 'error' && (typeof msg.code !== 'string' || !/^[a-z_]+$/.test(msg.code))) throw new Error(`unstable error code ${msg.code} after ${what}`);
            }
          }
        } finally {
          raw.destroy();
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 150), ...FC_OPTIONS },
    );
  }, 60_000);

  it('after the barrage: no connection is leaked, and a fresh user registers, connects and gets 12*7 = 84', async () => {
    await eventually(async () => (await connectionCount()) === 0, 5_000, 'every fuzzed connection to be released');
    const user = await registerUser(app.url, 'after-frames');
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
    try {
      ws.send({ type: 'user_message', id: 'calc', text: 'calculate 12*7' });
      const ack = await ws.next((m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === 'calc');
      expect(ack.type).toBe('message_accepted');
      if (ack.type !== 'message_accepted') return;
      const events: RunEvent[] = await ws.runEvents(ack.runId);
      expect(verifyRunEvents(events)).toEqual([]);
      const last = events.at(-1);
      expect(last?.type).toBe('agent_completed');
      expect(last?.type === 'agent_completed' ? last.text : '').toContain('84');
    } finally {
      ws.close();
    }
  });
});
