/**
 * Shared by the token attack modules (forged-tokens, token-kind-confusion, revocation, identity-switch): token
 * forging, the HTTP calls of a login's life, and a raw TCP WebSocket client for the upgrade and the frames.
 */
import { createHmac, createPrivateKey, randomBytes, randomUUID, sign as nodeSign, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { base64url, decodeJwt, type JWK, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import type { AuthResponse } from '../../../src/protocol/index.js';
import {
  request,
  TestSocket,
  wsUrl,
  type HttpResult,
  type registerUser,
  type TestApp,
} from '../../../src/testing/index.js';

export type User = Awaited<ReturnType<typeof registerUser>>;
export type Tokens = { accessToken: string; refreshToken: string };
type ErrorBody = { error: { code: string; message: string } };

export const codeOf = (res: HttpResult<unknown>): string | undefined =>
  (res.body as Partial<ErrorBody> | undefined)?.error?.code;
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

// ---- HTTP calls of a login's life --------------------------------------------------------------------------------

export const me = (app: TestApp, token: string): Promise<HttpResult<{ user: { id: string } }>> =>
  request(app.url, 'GET', '/auth/me', { token });
export const refresh = (app: TestApp, refreshToken: string): Promise<HttpResult<AuthResponse>> =>
  request<AuthResponse>(app.url, 'POST', '/auth/refresh', { body: { refreshToken } });
export const logout = (app: TestApp, accessToken: string, refreshToken: string): Promise<HttpResult<unknown>> =>
  request(app.url, 'POST', '/auth/logout', { token: accessToken, body: { refreshToken } });

/** A second login (a new family) of the same user. */
export async function login(app: TestApp, user: User): Promise<AuthResponse> {
  const res = await request<AuthResponse>(app.url, 'POST', '/auth/login', {
    body: { email: user.email, password: user.password },
  });
  expect(res.status).toBe(200);
  return res.body;
}

export async function mintTicket(
  app: TestApp,
  accessToken: string,
  ttlSeconds?: number,
): Promise<{ ticket: string; url: string }> {
  const res = await request<{ ticket: string; url: string }>(app.url, 'POST', '/ws/ticket', {
    token: accessToken,
    body: ttlSeconds === undefined ? {} : { ttlSeconds },
  });
  expect(res.status).toBe(201);
  return res.body;
}

// ---- WebSocket with the `ws` client ------------------------------------------------------------------------------

export const openBearer = (app: TestApp, token: string): Promise<TestSocket> =>
  TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${token}` } });
export const openSubprotocol = (app: TestApp, token: string): Promise<TestSocket> =>
  TestSocket.open(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${token}`] });
export const openTicket = async (app: TestApp, accessToken: string): Promise<TestSocket> =>
  TestSocket.open((await mintTicket(app, accessToken)).url);

/** A ping answered, and no close. */
export async function stillAlive(ws: TestSocket, id = `alive-${randomUUID()}`): Promise<void> {
  ws.send({ type: 'ping', id });
  expect(await ws.waitFor((m) => m.type === 'pong' && m.replyTo === id, 5_000)).toBeDefined();
  expect(ws.closed).toBeUndefined();
}

// ---- a raw TCP WebSocket client ----------------------------------------------------------------------------------

export type Frame = { opcode: number; payload: Buffer };
export type Refusal = { status: number; code: string | undefined; headers: string };

/**
 * A WebSocket client over a plain TCP socket: the handshake is written by hand, the server's frames are parsed by
 * hand, and several client frames can go out in one write. Nothing here is lenient the way a client library is.
 */
export class RawWs {
  readonly frames: Frame[] = [];
  ended = false;
  private pending = Buffer.alloc(0);
  private wakers: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    rest: Buffer,
  ) {
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    this.feed(rest);
  }

  /** The upgrade, with `headers` added to the mandatory ones: the open client on 101, else the refusal. */
  static upgrade(
    app: { readonly url: string },
    headers: Record<string, string>,
    path = '/ws',
  ): Promise<RawWs | Refusal> {
    const { hostname, port } = new URL(app.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      const timer = setTimeout(() => (socket.destroy(), reject(new Error('raw upgrade timed out'))), 5_000);
      let head = Buffer.alloc(0);
      let settled = false;
      socket.on('error', (err) => (settled ? undefined : (clearTimeout(timer), reject(err))));
      const lines = [
        `GET ${path} HTTP/1.1`,
        `Host: ${hostname}:${port}`,
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (status === 101) {
          socket.off('data', onData);
          settled = true;
          clearTimeout(timer);
          resolve(new RawWs(socket, head.subarray(end + 4)));
        }
        // A refusal: wait for the whole body (the server closes the connection after it).
      };
      socket.on('data', onData);
      socket.on('close', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const end = head.indexOf('\r\n\r\n');
        const headText = head.subarray(0, Math.max(0, end)).toString('latin1');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headText)?.[1] ?? 0);
        let code: string | undefined;
        try {
          code = (JSON.parse(head.subarray(end + 4).toString('utf8')) as Partial<ErrorBody>).error?.code;
        } catch {
          code = undefined;
        }
        resolve({ status, code, headers: headText });
      });
    });
  }

  /** Every text message so far, parsed. */
  get messages(): Array<Record<string, unknown>> {
    return this.frames
      .filter((f) => f.opcode === 1)
      .map((f) => JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>);
  }

  /** The close frame the server sent, if any. */
  get closeFrame(): { code: number; reason: string } | undefined {
    const f = this.frames.find((x) => x.opcode === 8);
    return f === undefined
      ? undefined
      : { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString('utf8') };
  }

  /** Resolves once `check` holds (bounded). */
  async until(check: (ws: RawWs) => boolean, timeoutMs = 5_000, what = 'a condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))} close=${JSON.stringify(this.closeFrame)}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.wakers.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  /** Writes the frames in one TCP write. */
  write(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private feed(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.pending.length < 2) break;
      const b0 = this.pending[0] ?? 0;
      const b1 = this.pending[1] ?? 0;
      let len = b1 & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (this.pending.length < 4) break;
        len = this.pending.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (this.pending.length < 10) break;
        len = Number(this.pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.pending.length < offset + len) break;
      this.frames.push({ opcode: b0 & 0x0f, payload: Buffer.from(this.pending.subarray(offset, offset + len)) });
      this.pending = this.pending.subarray(offset + len);
    }
    this.wake();
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }
}

export type Via = 'header' | 'subprotocol';

/** One upgrade attempt carrying `token` (raw TCP): the status, 'open' on 101 (the socket is then dropped). */
export async function upgradeWith(
  app: TestApp,
  token: string,
  via: Via = 'header',
  extra: Record<string, string> = {},
): Promise<number | 'open'> {
  const headers: Record<string, string> =
    via === 'header'
      ? { Authorization: `Bearer ${token}` }
      : { 'Sec-WebSocket-Protocol': `agentgate.v1, bearer.${token}` };
  const result = await RawWs.upgrade(app, { ...headers, ...extra });
  if (result instanceof RawWs) {
    result.destroy();
    return 'open';
  }
  return result.status;
}

/**
 * Refused everywhere a Bearer access token is taken: 401 on GET /auth/me (with one of `codes`), 401 on
 * POST /ws/ticket, and 401 at the WebSocket upgrade by Authorization header and by `bearer.` subprotocol (or 400
 * there when the token cannot even be a subprotocol entry).
 */
export async function expectRefusedEverywhere(
  app: TestApp,
  token: string,
  codes: string[] = ['invalid_token'],
): Promise<void> {
  const res = await request(app.url, 'GET', '/auth/me', { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, 'GET /auth/me').toBe(401);
  expect(codes).toContain(codeOf(res));
  expect(
    (await request(app.url, 'POST', '/ws/ticket', { headers: { authorization: `Bearer ${token}` }, body: {} })).status,
    'POST /ws/ticket',
  ).toBe(401);
  expect(await upgradeWith(app, token, 'header'), 'upgrade, Authorization header').toBe(401);
  // A token that is not an RFC 9110 token (JSON, spaces) makes the subprotocol list malformed: 400 is then the
  // contract's answer for a malformed handshake; either way no socket opens.
  const subprotocol = await upgradeWith(app, token, 'subprotocol');
  if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$/.test(token)) expect(subprotocol, 'upgrade, bearer. subprotocol').toBe(401);
  else expect([400, 401], 'upgrade, bearer. subprotocol (malformed entry)').toContain(subprotocol);
}

// ---- forging -----------------------------------------------------------------------------------------------------

/** A compact JWS over `header` and `payload`, signed by `signer` (any bytes: the point is to forge). */
export function rawJws(header: Record<string, unknown>, payload: unknown, signer: (input: Buffer) => Buffer): string {
  const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}`;
  return `${input}.${base64url.encode(signer(Buffer.from(input)))}`;
}

export const hmacSigner =
  (alg: 'HS256' | 'HS384' | 'HS512', key: Buffer | string) =>
  (input: Buffer): Buffer =>
    createHmac(`sha${alg.slice(2)}`, key)
      .update(input)
      .digest();

/** Signs with an Ed25519 private JWK (node:crypto, no JOSE library in between). */
export const edSigner =
  (privateJwk: JWK) =>
  (input: Buffer): Buffer =>
    nodeSign(null, input, createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' }));

/** The development-mode private signing key of an app (DATA_DIR/jwt-signing-key.json). */
export const devPrivateJwk = (app: TestApp): JWK =>
  JSON.parse(readFileSync(join(app.dataDir, 'jwt-signing-key.json'), 'utf8')) as JWK;

/** The claims a genuine access token carries, fresh (new iat/exp/jti), with `over` applied (undefined deletes). */
export function claimsFrom(token: string, over: Record<string, unknown> = {}): JWTPayload {
  const real = decodeJwt(token);
  const now = nowSeconds();
  const base: Record<string, unknown> = {
    sub: real.sub,
    sid: real.sid,
    iss: real.iss,
    aud: real.aud,
    iat: now,
    exp: now + 600,
    jti: randomUUID(),
    ...over,
  };
  return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined));
}

// ---- the app's SQLite, for account states no endpoint creates ----------------------------------------------------

export function withDb<T>(app: TestApp, work: (db: Database.Database) => T): T {
  const db = new Database(join(app.dataDir, 'agentgate.sqlite'));
  try {
    db.pragma('foreign_keys = ON');
    return work(db);
  } finally {
    db.close();
  }
}
