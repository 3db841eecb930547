import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import WebSocket from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { registerUser, request, TestSocket, wsUrl } from '../../src/testing/index.js';
import { eventually as until, useTestApp } from '../e2e/helpers/runs.js';
import { frame } from '../e2e/helpers/wire.js';
import { BINARY, closeFrame, CONTINUATION, encode, openRaw, TEXT, type FrameSpec } from './helpers/wire-raw.js';

/**
 * Framing after a valid upgrade (RFC 6455 §5; CONTRACT "WebSocket: GET /ws" and close codes; advisories of `ws`),
 * from a raw TCP socket: binary frames close 1003, invalid UTF-8 1007, a message over MAX_MESSAGE_BYTES (in one frame
 * or only once reassembled) 1009, protocol violations (unmasked frames, reserved bits and opcodes, long or fragmented
 * control frames) 1002; a peer dribbling a frame cannot outlive the heartbeat. Then hostile barrages (fast-check: it
 * prints the seed on failure; rerun with FC_SEED=<seed> and FC_PATH=<path>): the server either keeps the connection
 * or closes it with a protocol close code (or the echo of the client's own close), never answers `internal_error`,
 * never leaks the connection, and keeps serving. Settings: MAX_MESSAGE_BYTES, HEARTBEAT_INTERVAL_MS.
 */

const FC_OPTIONS = {
  ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
};

const LIMIT = 4096;

const INVALID_UTF8 = [
  [0xff],
  [0xfe],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
  [0xc3],
];

const textPayload = fc
  .oneof(
    fc.constantFrom(
      '{"type":"ping","id":"raw"}',
      '{"type":"ping"',
      'not json',
      '',
      '{"type":"nope"}',
      '"just a string"',
      '[[[[[[[[[[]]]]]]]]]]',
    ),
    fc.string({ maxLength: 200 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
  )
  .map((s) => new Uint8Array(Buffer.from(s)));

const invalidUtf8Payload = fc
  .record({
    before: fc.string({ maxLength: 20 }),
    bad: fc.constantFrom(...INVALID_UTF8),
    after: fc.string({ maxLength: 20 }),
  })
  .map(
    ({ before, bad, after }) =>
      new Uint8Array(Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)])),
  );

const closePayload = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.constant(new Uint8Array([0x03])),
  fc
    .record({
      code: fc.oneof(
        fc.constantFrom(
          0,
          999,
          1000,
          1001,
          1002,
          1003,
          1004,
          1005,
          1006,
          1007,
          1008,
          1009,
          1010,
          1011,
          1012,
          1013,
          1014,
          1015,
          1016,
          2999,
          3000,
          4000,
          4999,
          5000,
          65535,
        ),
        fc.integer({ min: 0, max: 65535 }),
      ),
      reason: fc.oneof(
        fc.string({ maxLength: 30 }).map((s) => Buffer.from(s)),
        fc.constantFrom(...INVALID_UTF8).map((b) => Buffer.from(b)),
        fc.constant(Buffer.alloc(124, 0x61)),
      ),
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
        {
          arbitrary: fc.integer({ min: 126, max: 300 }).map((n) => new Uint8Array(n).fill(0x61)),
          weight: opcode >= 8 ? 1 : 0,
        },
        {
          arbitrary: fc.integer({ min: LIMIT - 10, max: LIMIT + 500 }).map((n) => new Uint8Array(n).fill(0x20)),
          weight: opcode >= 8 ? 0 : 1,
        },
      );

const opcodeArb = fc.oneof(
  { arbitrary: fc.constantFrom(0x1, 0x1, 0x1, 0x1, 0x0, 0x2, 0x8, 0x9, 0x9, 0xa, 0xa), weight: 12 },
  { arbitrary: fc.constantFrom(0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf), weight: 1 },
);

/** Mostly frames a parser must accept, so that sequences get deep; now and then one protocol violation. */
const frameArb: fc.Arbitrary<FrameSpec> = opcodeArb.chain((opcode) =>
  fc.record({
    fin:
      opcode >= 8
        ? fc.oneof({ arbitrary: fc.constant(true), weight: 15 }, { arbitrary: fc.constant(false), weight: 1 })
        : fc.oneof({ arbitrary: fc.constant(true), weight: 6 }, { arbitrary: fc.constant(false), weight: 1 }),
    rsv: fc.oneof({ arbitrary: fc.constant(0), weight: 15 }, { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 1 }),
    opcode: fc.constant(opcode),
    masked: fc.oneof({ arbitrary: fc.constant(true), weight: 25 }, { arbitrary: fc.constant(false), weight: 1 }),
    payload: payload(opcode),
    lengthForm:
      opcode >= 8
        ? fc.oneof(
            { arbitrary: fc.constant('shortest' as const), weight: 15 },
            { arbitrary: fc.constantFrom('16' as const, '64' as const), weight: 1 },
          )
        : fc.constantFrom('shortest', 'shortest', 'shortest', '16', '64'),
  }),
);

/** Fragmented text messages, in order or shuffled (continuations first, a second start), a ping between fragments. */
const shuffledFragments: fc.Arbitrary<FrameSpec[]> = fc
  .record({
    text: fc.string({ minLength: 3, maxLength: 60 }),
    cuts: fc.integer({ min: 2, max: 5 }),
    order: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
    shuffle: fc.boolean(),
    ping: fc.boolean(),
  })
  .map(({ text, cuts, order, shuffle, ping }) => {
    const bytes = Buffer.from(`{"type":"ping","id":${JSON.stringify(text)}}`);
    const size = Math.ceil(bytes.length / cuts);
    const frames: FrameSpec[] = [];
    for (let i = 0; i * size < bytes.length; i++) {
      const last = (i + 1) * size >= bytes.length;
      frames.push({
        fin: last,
        rsv: 0,
        opcode: i === 0 ? 1 : 0,
        masked: true,
        payload: bytes.subarray(i * size, (i + 1) * size),
        lengthForm: 'shortest',
      });
    }
    if (ping)
      frames.splice(1, 0, {
        fin: true,
        rsv: 0,
        opcode: 9,
        masked: true,
        payload: Buffer.from('hb'),
        lengthForm: 'shortest',
      });
    if (!shuffle) return frames;
    // A stable shuffle driven by `order`.
    return frames
      .map((f, i) => ({ f, k: order[i % order.length] ?? i }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.f);
  });

interface Barrage {
  frames: FrameSpec[];
  /** After the frames: a valid close 1000, nothing, or cut the last `truncate` bytes off. */
  ending: { kind: 'close' } | { kind: 'none' } | { kind: 'truncate'; bytes: number };
  /** Where the byte stream is split into separate writes (fractions of its length). */
  splits: number[];
}

const barrageArb: fc.Arbitrary<Barrage> = fc.record({
  frames: fc.oneof(
    { arbitrary: fc.array(frameArb, { minLength: 1, maxLength: 6 }), weight: 4 },
    { arbitrary: shuffledFragments, weight: 1 },
  ),
  ending: fc.oneof(
    { arbitrary: fc.constant({ kind: 'close' as const }), weight: 3 },
    { arbitrary: fc.constant({ kind: 'none' as const }), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: 20 }).map((bytes) => ({ kind: 'truncate' as const, bytes })), weight: 1 },
  ),
  splits: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
});

const PROTOCOL_CLOSE_CODES = new Set([1002, 1003, 1007, 1009]);
/** Close codes a server may echo back (RFC 6455 7.4; ws echoes a valid code the client sent). */
const isEchoable = (code: number): boolean =>
  (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);

function describeFrames(frames: FrameSpec[]): string {
  return frames
    .map(
      (f) =>
        `{fin:${f.fin},rsv:${f.rsv},op:${f.opcode},masked:${f.masked},len:${f.payload.length},form:${f.lengthForm},head:${Buffer.from(f.payload.subarray(0, 24)).toString('hex')}}`,
    )
    .join(' ');
}

describe('framing: close codes on the wire (RFC 6455 §5, MAX_MESSAGE_BYTES=1024)', () => {
  const WIRE_LIMIT = 1024;
  const wire = useTestApp({ MAX_MESSAGE_BYTES: String(WIRE_LIMIT) });
  let token: string;
  beforeAll(async () => {
    token = (await registerUser(wire.app.url, 'wire')).accessToken;
  });
  const opened = () => openRaw(wire.app.port, token);

  it('[CONTRACT WS] connection_established arrives first, as a text frame', async () => {
    const raw = await opened();
    raw.send(frame(0x8, Buffer.from([0x03, 0xe8])));
    const { code, frames } = await raw.closeFrame();
    expect(code).toBe(1000);
    expect(frames[0]?.opcode).toBe(TEXT);
    expect(JSON.parse(frames[0]?.payload.toString('utf8') ?? '')).toMatchObject({ type: 'connection_established' });
  });

  it('[RFC 6455 §7.4.1 / CONTRACT close codes] a binary frame closes 1003', async () => {
    const raw = await opened();
    raw.send(frame(BINARY, '{"type":"ping"}'));
    expect((await raw.closeFrame()).code).toBe(1003);
  });

  it('[RFC 6455 §8.1 / CONTRACT close codes] a text frame with invalid UTF-8 closes 1007', async () => {
    for (const bad of [
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from([0xed, 0xa0, 0x80]),
    ]) {
      const raw = await opened();
      raw.send(frame(TEXT, bad));
      expect((await raw.closeFrame()).code, bad.toString('hex')).toBe(1007);
    }
  });

  it('[RFC 6455 §8.1] invalid UTF-8 split across fragments closes 1007', async () => {
    const raw = await opened();
    raw.send(
      frame(TEXT, Buffer.from([0x22, 0xe2, 0x82]), { fin: false }),
      frame(CONTINUATION, Buffer.from([0x41, 0x22])),
    );
    expect((await raw.closeFrame()).code).toBe(1007);
  });

  it('[RFC 6455 §5.1] an unmasked client frame closes 1002', async () => {
    const raw = await opened();
    raw.send(frame(TEXT, '{"type":"ping"}', { masked: false }));
    expect((await raw.closeFrame()).code).toBe(1002);
  });

  it('[CONTRACT close codes] one frame over MAX_MESSAGE_BYTES closes 1009', async () => {
    const raw = await opened();
    raw.send(frame(TEXT, `{"type":"ping","pad":"${'x'.repeat(WIRE_LIMIT)}"}`));
    expect((await raw.closeFrame()).code).toBe(1009);
  });

  it('[ws GHSA-6663-c963-2gqg / CVE-2016-10542] a frame header announcing MAX_MESSAGE_BYTES + 1 (or 16 MiB) closes 1009 at once, before any payload is sent', async () => {
    for (const len of [WIRE_LIMIT + 1, 16 * 1024 * 1024]) {
      const raw = await opened();
      const header = Buffer.alloc(len < 65_536 ? 4 : 10);
      header[0] = 0x81;
      if (len < 65_536) {
        header[1] = 0x80 | 126;
        header.writeUInt16BE(len, 2);
      } else {
        header[1] = 0x80 | 127;
        header.writeBigUInt64BE(BigInt(len), 2);
      }
      raw.send(header, randomBytes(4));
      expect((await raw.closeFrame()).code, `announced ${len}`).toBe(1009);
    }
  });

  it('[CONTRACT WS] the limit applies to the reassembled message: small fragments totalling > MAX_MESSAGE_BYTES close 1009', async () => {
    const raw = await opened();
    const piece = 'x'.repeat(400); // 20 + 3 * 400 + 2 = 1222 bytes in all, every fragment under 1024
    raw.send(
      frame(TEXT, `{"type":"ping","p":"${piece}`, { fin: false }),
      frame(CONTINUATION, piece, { fin: false }),
      frame(CONTINUATION, piece, { fin: false }),
      frame(CONTINUATION, '"}'),
    );
    expect((await raw.closeFrame()).code).toBe(1009);
  });

  it('[RFC 6455 §5.4] fragments within the limit are reassembled into one message (pong)', async () => {
    const raw = await opened();
    raw.send(
      frame(TEXT, '{"type":"pi', { fin: false }),
      frame(0x9, 'hb'),
      frame(CONTINUATION, 'ng","id":"fr', { fin: false }),
      frame(CONTINUATION, 'ag"}'),
    );
    // The answer is written asynchronously: close only once it is on the wire, or the close could overtake it.
    await raw.expect((b) => (b.includes('"replyTo":"frag"') ? true : undefined), 'no pong for the reassembled ping');
    raw.send(frame(0x8, Buffer.from([0x03, 0xe8])));
    const { code, frames } = await raw.closeFrame();
    expect(code).toBe(1000);
    const texts = frames
      .filter((f) => f.opcode === TEXT)
      .map((f) => JSON.parse(f.payload.toString('utf8')) as { type: string });
    expect(texts).toContainEqual({ type: 'pong', replyTo: 'frag' });
    expect(
      frames.some((f) => f.opcode === 0xa && f.payload.toString() === 'hb'),
      'a ping inside a fragmented message gets its pong',
    ).toBe(true);
  });

  it('[RFC 6455 §5.5] control frames: a fragmented close or pong, a pong of 126 bytes, a ping in the 16-bit length form over 125 close 1002', async () => {
    const cases: Array<[string, Buffer]> = [
      [
        'fragmented close',
        encode({
          fin: false,
          rsv: 0,
          opcode: 8,
          masked: true,
          payload: Buffer.from([0x03, 0xe8]),
          lengthForm: 'shortest',
        }),
      ],
      [
        'fragmented pong',
        encode({ fin: false, rsv: 0, opcode: 0xa, masked: true, payload: Buffer.from('x'), lengthForm: 'shortest' }),
      ],
      [
        'pong of 126 bytes',
        encode({ fin: true, rsv: 0, opcode: 0xa, masked: true, payload: Buffer.alloc(126, 1), lengthForm: 'shortest' }),
      ],
      [
        'ping of 200 bytes, 16-bit length',
        encode({ fin: true, rsv: 0, opcode: 9, masked: true, payload: Buffer.alloc(200, 1), lengthForm: '16' }),
      ],
    ];
    for (const [name, bytes] of cases) {
      const raw = await opened();
      raw.send(bytes);
      expect((await raw.closeFrame()).code, name).toBe(1002);
    }
  });

  it('[RFC 6455 §5.2] a 64-bit payload length with its most significant bit set closes the connection (1009 or 1002)', async () => {
    const raw = await opened();
    raw.send(
      Buffer.concat([Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x05]), randomBytes(4), Buffer.from('hello')]),
    );
    expect([1009, 1002]).toContain((await raw.closeFrame()).code);
  });

  it('[CONTRACT close codes] (ws client) exactly MAX_MESSAGE_BYTES is accepted, one byte more closes 1009', async () => {
    const ws = await TestSocket.open(wsUrl(wire.app.url), { headers: { authorization: `Bearer ${token}` } });
    const exact = '{"type":"ping","id":"edge"}';
    ws.send(exact + ' '.repeat(WIRE_LIMIT - exact.length));
    expect(await ws.next((m) => m.type === 'pong', 5_000)).toMatchObject({ replyTo: 'edge' });
    ws.send(exact + ' '.repeat(WIRE_LIMIT - exact.length + 1));
    expect((await ws.waitClose(5_000)).code).toBe(1009);
  });

  it('[CONTRACT close codes] (ws client) a binary message closes 1003', async () => {
    const ws = await TestSocket.open(wsUrl(wire.app.url), { headers: { authorization: `Bearer ${token}` } });
    ws.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect((await ws.waitClose(5_000)).code).toBe(1003);
    expect(ws.ws.readyState).toBe(WebSocket.CLOSED);
  });
});

describe('framing: a slowloris frame (HEARTBEAT_INTERVAL_MS=1000)', () => {
  const slow = useTestApp({ HEARTBEAT_INTERVAL_MS: '1000' });

  it('[OWASP WebSocket Security Cheat Sheet / CWE-400] a peer dribbling one frame (a header announcing 100 bytes, then one byte per 100 ms) cannot answer pings: it is terminated after two missed heartbeats and its slot is freed', async () => {
    const user = await registerUser(slow.app.url, 'slowloris');
    const raw = await openRaw(slow.app.port, user.accessToken);
    const mask = randomBytes(4);
    raw.send(Buffer.from([0x81, 0x80 | 100]), mask);
    const started = Date.now();
    let sent = 0;
    const dribble = setInterval(() => {
      if (!raw.ended && sent < 99) raw.send(Buffer.from([0x61 ^ (mask[sent++ % 4] ?? 0)]));
    }, 100);
    try {
      const out = await raw.outcome(8_000);
      expect(out.kind, 'terminated without a close frame (the client sees 1006)').toBe('dropped');
      expect(Date.now() - started, 'two missed heartbeats at 1 s, with slack').toBeLessThan(6_000);
      expect(sent, 'the frame was never completed').toBeLessThan(99);
      expect(out.frames.filter((f) => f.opcode === 0x9).length, 'pings it could not answer').toBeGreaterThanOrEqual(1);
    } finally {
      clearInterval(dribble);
      raw.destroy();
    }
    await until(
      () => slow.app.gateway.registry.countFor(user.user.id) === 0,
      3_000,
      'the slot of the terminated peer to be freed',
    );
  });
});

describe('framing: hostile barrages (fast-check, MAX_MESSAGE_BYTES=4096)', () => {
  // Connection, handshake and message rate limits are lifted: every attempt must reach the frame parser.
  const fuzz = useTestApp({
    MAX_MESSAGE_BYTES: String(LIMIT),
    HANDSHAKES_PER_MINUTE: '1000000',
    MAX_CONNECTIONS_PER_USER: '10000',
    WS_MESSAGES_PER_SECOND: '100000',
    WS_MESSAGE_BURST: '1000000',
  });
  let fuzzToken: string;
  beforeAll(async () => {
    fuzzToken = (await registerUser(fuzz.app.url, 'frames')).accessToken;
  });

  async function connectionCount(): Promise<number> {
    const res = await request<{ connections: number }>(fuzz.app.url, 'GET', '/ws/health');
    return res.body.connections;
  }

  async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('[RFC 6455 §5.2, §5.5 / ws GHSA-6663-c963-2gqg] fixed cases: reserved opcodes, RSV bits, long control frames, stray continuations, fragmented control frames, huge 64-bit lengths', async () => {
    const cases: Array<{ name: string; bytes: Buffer; codes: number[] }> = [
      {
        name: 'reserved opcode 0x3',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 0x3,
          masked: true,
          payload: Buffer.from('x'),
          lengthForm: 'shortest',
        }),
        codes: [1002],
      },
      {
        name: 'reserved control opcode 0xb',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 0xb,
          masked: true,
          payload: Buffer.alloc(0),
          lengthForm: 'shortest',
        }),
        codes: [1002],
      },
      {
        name: 'RSV1 on a text frame',
        bytes: encode({
          fin: true,
          rsv: 4,
          opcode: 1,
          masked: true,
          payload: Buffer.from('{"type":"ping"}'),
          lengthForm: 'shortest',
        }),
        codes: [1002],
      },
      {
        name: 'RSV3 on a ping',
        bytes: encode({ fin: true, rsv: 1, opcode: 9, masked: true, payload: Buffer.alloc(0), lengthForm: 'shortest' }),
        codes: [1002],
      },
      {
        name: 'ping of 126 bytes',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 9,
          masked: true,
          payload: Buffer.alloc(126, 1),
          lengthForm: 'shortest',
        }),
        codes: [1002],
      },
      {
        name: 'close of 126 bytes',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 8,
          masked: true,
          payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.alloc(124, 0x61)]),
          lengthForm: 'shortest',
        }),
        codes: [1002],
      },
      {
        name: 'continuation with nothing to continue',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 0,
          masked: true,
          payload: Buffer.from('x'),
          lengthForm: 'shortest',
        }),
        codes: [1002],
      },
      {
        name: 'fragmented ping',
        bytes: encode({
          fin: false,
          rsv: 0,
          opcode: 9,
          masked: true,
          payload: Buffer.from('x'),
          lengthForm: 'shortest',
        }),
        codes: [1002],
      },
      {
        name: 'a new text frame inside a fragmented message',
        bytes: Buffer.concat([
          encode({ fin: false, rsv: 0, opcode: 1, masked: true, payload: Buffer.from('{"a"'), lengthForm: 'shortest' }),
          encode({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.from('{}'), lengthForm: 'shortest' }),
        ]),
        codes: [1002],
      },
      { name: 'close code 1005 on the wire', bytes: closeFrame(1005), codes: [1002] },
      { name: 'close code 999', bytes: closeFrame(999), codes: [1002] },
      {
        name: 'close with a 1-byte payload',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 8,
          masked: true,
          payload: Buffer.from([3]),
          lengthForm: 'shortest',
        }),
        codes: [1002],
      },
      {
        name: 'close reason with invalid UTF-8',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 8,
          masked: true,
          payload: Buffer.from([0x03, 0xe8, 0xff]),
          lengthForm: 'shortest',
        }),
        codes: [1007],
      },
      {
        name: 'declared 64-bit length of 2^62',
        bytes: Buffer.concat([
          Buffer.from([0x81, 0xff]),
          Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0]),
          randomBytes(4),
          Buffer.from('x'),
        ]),
        codes: [1009, 1002],
      },
      {
        name: 'declared 64-bit length of 2^40',
        bytes: Buffer.concat([
          Buffer.from([0x81, 0xff]),
          Buffer.from([0, 0, 0x01, 0, 0, 0, 0, 0]),
          randomBytes(4),
          Buffer.from('x'),
        ]),
        codes: [1009],
      },
      {
        name: 'binary frame',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 2,
          masked: true,
          payload: Buffer.from([1, 2, 3]),
          lengthForm: 'shortest',
        }),
        codes: [1003],
      },
      {
        name: 'invalid UTF-8 text',
        bytes: encode({
          fin: true,
          rsv: 0,
          opcode: 1,
          masked: true,
          payload: Buffer.from([0x7b, 0xff, 0x7d]),
          lengthForm: 'shortest',
        }),
        codes: [1007],
      },
    ];
    for (const c of cases) {
      const raw = await openRaw(fuzz.app.port, fuzzToken);
      await raw.write([c.bytes]);
      const out = await raw.outcome(3_000);
      raw.destroy();
      expect(out.kind, c.name).toBe('closed');
      if (out.kind === 'closed') expect(c.codes, `${c.name}: closed ${out.code}`).toContain(out.code);
    }
  });

  it('[RFC 6455 §5, §7.4.1 / CONTRACT close codes] property: any barrage of frames ends in a protocol close code or an open connection, never an internal error', async () => {
    await fc.assert(
      fc.asyncProperty(barrageArb, async (barrage) => {
        let stream = Buffer.concat(barrage.frames.map(encode));
        if (barrage.ending.kind === 'close') stream = Buffer.concat([stream, closeFrame(1000)]);
        if (barrage.ending.kind === 'truncate')
          stream = stream.subarray(0, Math.max(1, stream.length - barrage.ending.bytes));
        const cuts = [...new Set(barrage.splits.map((s) => Math.floor(s * stream.length)))]
          .filter((c) => c > 0 && c < stream.length)
          .sort((a, b) => a - b);
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

        const raw = await openRaw(fuzz.app.port, fuzzToken);
        try {
          await raw.write(pieces);
          // With a well-formed close at the end the server must answer with a close frame; otherwise it may wait.
          const out = await raw.outcome(barrage.ending.kind === 'close' ? 3_000 : 150);
          const what = `${describeFrames(barrage.frames)} ending ${JSON.stringify(barrage.ending)}`;
          if (out.kind === 'dropped') throw new Error(`the server dropped TCP without a close frame after ${what}`);
          if (out.kind === 'open' && barrage.ending.kind === 'close')
            throw new Error(`no close frame in answer to a client close after ${what}`);
          if (out.kind === 'closed' && !allowed.has(out.code))
            throw new Error(`closed ${out.code} (allowed ${[...allowed].join(',')}) after ${what}`);
          for (const f of out.frames) {
            if (f.masked || f.rsv !== 0) throw new Error(`server frame masked or with RSV bits after ${what}`);
            if (f.opcode === 1) {
              const msg = JSON.parse(f.payload.toString('utf8')) as { type?: string; code?: string };
              if (msg.code === 'internal_error') throw new Error(`internal_error after ${what}`);
              if (msg.type === 'error' && (typeof msg.code !== 'string' || !/^[a-z_]+$/.test(msg.code)))
                throw new Error(`unstable error code ${msg.code} after ${what}`);
            }
          }
        } finally {
          raw.destroy();
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 150), ...FC_OPTIONS },
    );
  }, 60_000);

  it('[CWE-400] after the barrage: no connection is leaked, and a fresh user registers, connects and gets 12*7 = 84', async () => {
    await eventually(async () => (await connectionCount()) === 0, 5_000, 'every fuzzed connection to be released');
    const user = await registerUser(fuzz.app.url, 'after-frames');
    const ws = await TestSocket.open(wsUrl(fuzz.app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
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
