// Identity switch on an open socket: `authenticate` may only swap in a newer token of the same user. Another
// user's token closes the socket 1008 `token user mismatch`; a bad token (forged, expired, revoked, a refresh
// token, a ticket) gets an `error` and changes nothing; the connection's user never changes, so another user's
// events never arrive (CONTRACT.md "WebSocket: GET /ws" authenticate; OWASP WebSocket Security Cheat Sheet).
import { setTimeout as delay } from 'node:timers/promises';
import { base64url, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, type TestApp } from '../../src/testing/index.js';
import { frame } from '../e2e/helpers/wire.js';
import {
  claimsFrom,
  devPrivateJwk,
  login,
  logout,
  me,
  mintTicket,
  nowSeconds,
  openBearer,
  openSubprotocol,
  RawWs,
  stillAlive,
  type User,
} from './helpers/tokens.js';

type WsError = { type: 'error'; code: string; replyTo: string | null };
type Ack = { type: 'message_accepted'; replyTo: string; threadId: string; runId: string };

let app: TestApp;
let alice: User;
let bob: User;
const sockets: TestSocket[] = [];
beforeAll(async () => {
  app = await createTestApp();
  [alice, bob] = await Promise.all([registerUser(app.url, 'alice'), registerUser(app.url, 'bob')]);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await app?.close();
});

const open = async (token: string): Promise<TestSocket> => {
  const ws = await openBearer(app, token);
  sockets.push(ws);
  return ws;
};
const errorFor = async (ws: TestSocket, id: string): Promise<WsError> =>
  (await ws.waitFor((m) => m.type === 'error' && m.replyTo === id, 5_000)) as WsError;
/** A real-key (development mode) token with `over` applied to the claims of `token`. */
async function signReal(
  token: string,
  over: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const key = await importJWK(devPrivateJwk(app), 'EdDSA');
  const kid = (JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[0] ?? ''))) as { kid: string })
    .kid;
  return new SignJWT(claimsFrom(token, over))
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid, ...header })
    .sign(key);
}
/** Bob runs one message to its end on his own socket; returns the ack. */
async function bobRuns(bobWs: TestSocket, id: string): Promise<Ack> {
  bobWs.send({ type: 'user_message', id, text: `bob's secret ${id}` });
  const ack = (await bobWs.next((m) => m.type === 'message_accepted' && m.replyTo === id, 10_000)) as Ack;
  await bobWs.runEvents(ack.runId);
  return ack;
}
const seenRun = (messages: ReadonlyArray<ServerMessage | Record<string, unknown>>, runId: string): boolean =>
  messages.some((m) => (m as { runId?: unknown }).runId === runId && (m as { type?: unknown }).type !== 'error');

describe('identity switch with authenticate', () => {
  it('[contract WS authenticate] another user\'s valid token gets error invalid_token, then close 1008 "token user mismatch"', async () => {
    const ws = await open(alice.accessToken);
    ws.send({ type: 'authenticate', id: 'swap', token: bob.accessToken });
    const err = (await ws.next((m) => m.type === 'error', 5_000)) as WsError;
    expect(err).toMatchObject({ code: 'invalid_token', replyTo: 'swap' });
    expect(await ws.waitClose(5_000)).toEqual({ code: 1008, reason: 'token user mismatch' });
    expect(ws.messages.some((m) => m.type === 'authenticated')).toBe(false);
  });

  it('[contract WS authenticate] sockets opened by ticket and by bearer. subprotocol close 1008 "token user mismatch" on another user\'s token too; that user\'s token stays valid', async () => {
    const byTicket = await TestSocket.open((await mintTicket(app, alice.accessToken)).url);
    const bySubprotocol = await openSubprotocol(app, alice.accessToken);
    sockets.push(byTicket, bySubprotocol);
    for (const ws of [byTicket, bySubprotocol]) {
      ws.send({ type: 'authenticate', id: 'swap', token: bob.accessToken });
      expect(await errorFor(ws, 'swap')).toMatchObject({ code: 'invalid_token' });
      expect(await ws.waitClose(5_000)).toEqual({ code: 1008, reason: 'token user mismatch' });
    }
    expect((await me(app, bob.accessToken)).status).toBe(200);
  });

  it('[contract WS authenticate] a garbage token, a token with a broken signature, or a refresh token gets error invalid_token and changes nothing (the socket stays open)', async () => {
    const ws = await open(alice.accessToken);
    for (const [id, token] of [
      ['g1', 'garbage'],
      ['g2', `${alice.accessToken.slice(0, -4)}AAAA`],
      ['g3', alice.refreshToken],
    ] as const) {
      ws.send({ type: 'authenticate', id, token });
      expect((await errorFor(ws, id)).code, id).toBe('invalid_token');
    }
    await stillAlive(ws, 'after-garbage');
    expect(ws.messages.some((m) => m.type === 'authenticated')).toBe(false);
  });

  it('[contract WS authenticate / RFC 8725 §3.12] a ticket is not an access token: error invalid_token, the socket stays open', async () => {
    const ws = await open(alice.accessToken);
    const { ticket } = await mintTicket(app, alice.accessToken);
    ws.send({ type: 'authenticate', id: 't', token: ticket });
    expect(await errorFor(ws, 't')).toMatchObject({ code: 'invalid_token' });
    await stillAlive(ws, 'after-ticket');
  });

  it('[contract WS authenticate] control: a new valid token of the same user is accepted (authenticated, with its expiresAt)', async () => {
    const ws = await open(alice.accessToken);
    const fresh = await login(app, alice);
    ws.send({ type: 'authenticate', id: 'renew', token: fresh.accessToken });
    const ok = (await ws.waitFor((m) => m.type === 'authenticated', 5_000)) as { replyTo: string; expiresAt: string };
    expect(ok.replyTo).toBe('renew');
    const exp = (
      JSON.parse(Buffer.from(fresh.accessToken.split('.')[1] ?? '', 'base64url').toString()) as { exp: number }
    ).exp;
    expect(Date.parse(ok.expiresAt)).toBe(exp * 1000);
    await stillAlive(ws, 'after-renew');
  });

  it("[RFC 8725 §3.1 / contract WS authenticate] forged tokens for Bob (alg none, Bob's claims under an attacker key, Bob's sub on Alice's session under the real key) get error invalid_token and change nothing: Bob's events never reach the socket and his run is not_found for it", async () => {
    const ws = await open(alice.accessToken);
    const bobWs = await open(bob.accessToken);
    const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const bobClaims: JWTPayload = claimsFrom(bob.accessToken);
    const forgeries = [
      `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify(bobClaims))}.`,
      await new SignJWT(bobClaims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' }).sign(attacker.privateKey),
      await signReal(alice.accessToken, { sub: bob.user.id }),
    ];
    for (const [i, token] of forgeries.entries()) {
      ws.send({ type: 'authenticate', id: `forged-${i}`, token });
      expect((await errorFor(ws, `forged-${i}`)).code, `forgery ${i}`).toBe('invalid_token');
    }
    await stillAlive(ws, 'after-forgeries');
    expect(ws.messages.some((m) => m.type === 'authenticated')).toBe(false);
    expect(ws.messages[0]).toMatchObject({ type: 'connection_established', userId: alice.user.id });

    const ack = await bobRuns(bobWs, 'bob-1');
    ws.send({ type: 'resume', id: 'peek', runId: ack.runId, afterSeq: 0 });
    expect(await errorFor(ws, 'peek')).toMatchObject({ code: 'not_found' });
    await delay(300);
    expect(seenRun(ws.messages, ack.runId)).toBe(false);
    expect(ws.messages.some((m) => m.type === 'message_added' && m.threadId === ack.threadId)).toBe(false);
    // Alice's own messages are still hers.
    ws.send({ type: 'user_message', id: 'mine', text: 'hello from alice' });
    const mine = (await ws.next((m) => m.type === 'message_accepted' && m.replyTo === 'mine', 10_000)) as Ack;
    await ws.runEvents(mine.runId);
    expect(
      (await request(app.url, 'GET', `/threads/${mine.threadId}/messages`, { token: alice.accessToken })).status,
    ).toBe(200);
    expect(
      (await request(app.url, 'GET', `/threads/${mine.threadId}/messages`, { token: bob.accessToken })).status,
    ).toBe(404);
  });

  it('[RFC 7519 §4.1.4 / CWE-613 / contract WS authenticate] an expired token and a token of a logged-out family of the same user get an error and change nothing', async () => {
    const ws = await open(alice.accessToken);
    const expired = await signReal(alice.accessToken, { iat: nowSeconds() - 3600, exp: nowSeconds() - 60 });
    ws.send({ type: 'authenticate', id: 'expired', token: expired });
    expect(['token_expired', 'invalid_token']).toContain((await errorFor(ws, 'expired')).code);

    const other = await login(app, alice);
    expect((await logout(app, other.accessToken, other.refreshToken)).status).toBe(204);
    ws.send({ type: 'authenticate', id: 'revoked', token: other.accessToken });
    expect((await errorFor(ws, 'revoked')).code).toBe('invalid_token');

    await stillAlive(ws, 'after-bad-renewals');
    expect(ws.messages.some((m) => m.type === 'authenticated')).toBe(false);
  });

  it("[CWE-362 / contract WS authenticate] raw TCP: Bob's token, then in the same TCP write a resume of Bob's run and a user_message: close 1008 \"token user mismatch\", nothing of Bob's arrives, and anything accepted is Alice's", async () => {
    const bobWs = await open(bob.accessToken);
    const bobAck = await bobRuns(bobWs, 'bob-raw');
    const raw = await RawWs.upgrade(app, { Authorization: `Bearer ${alice.accessToken}` });
    if (!(raw instanceof RawWs)) throw new Error(`upgrade refused: ${raw.status}`);
    try {
      await raw.until(
        (r) => r.messages.some((m) => m.type === 'connection_established'),
        5_000,
        'connection_established',
      );
      expect(raw.messages[0]).toMatchObject({ type: 'connection_established', userId: alice.user.id });
      raw.write(
        frame(1, JSON.stringify({ type: 'authenticate', id: 'swap', token: bob.accessToken })),
        frame(1, JSON.stringify({ type: 'resume', id: 'peek', runId: bobAck.runId, afterSeq: 0 })),
        frame(1, JSON.stringify({ type: 'user_message', id: 'sneak', text: 'sneaked in after the swap' })),
      );
      await raw.until((r) => r.closeFrame !== undefined, 5_000, 'the close frame');
      expect(raw.closeFrame).toEqual({ code: 1008, reason: 'token user mismatch' });
      expect(raw.messages.find((m) => m.replyTo === 'swap')).toMatchObject({ type: 'error', code: 'invalid_token' });
      await delay(500);
      expect(seenRun(raw.messages, bobAck.runId)).toBe(false);
      expect(raw.messages.some((m) => m.type === 'authenticated' || m.type === 'resumed')).toBe(false);
      // Bob never hears of what came after the refused swap.
      expect(
        bobWs.messages.some((m) => m.type === 'message_added' && m.message.text === 'sneaked in after the swap'),
      ).toBe(false);
      const bobThreads = await request<{ threads: Array<{ id: string }> }>(app.url, 'GET', '/threads', {
        token: bob.accessToken,
      });
      const accepted = raw.messages.find((m) => m.type === 'message_accepted' && m.replyTo === 'sneak') as
        Ack | undefined;
      if (accepted !== undefined) {
        expect(bobThreads.body.threads.map((t) => t.id)).not.toContain(accepted.threadId);
        expect(
          (await request(app.url, 'GET', `/threads/${accepted.threadId}/messages`, { token: bob.accessToken })).status,
        ).toBe(404);
        expect(
          (await request(app.url, 'GET', `/threads/${accepted.threadId}/messages`, { token: alice.accessToken }))
            .status,
        ).toBe(200);
      }
      expect((await me(app, bob.accessToken)).status).toBe(200);
    } finally {
      raw.destroy();
    }
  });
});
