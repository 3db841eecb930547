// Token-kind confusion: each kind of credential is accepted in exactly one place. Refresh tokens and tickets are
// never Bearer tokens, access JWTs are never taken from a URL, and an access token is never a refresh token
// (CONTRACT.md "Tokens", "WebSocket: GET /ws", "HTTP API"; RFC 8725 §3.12; RFC 6750 §2.1, §5.3; CWE-598).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';
import {
  codeOf,
  expectRefusedEverywhere,
  logout,
  me,
  mintTicket,
  openBearer,
  RawWs,
  refresh,
  upgradeWith,
} from './helpers/tokens.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

/** One raw upgrade to `path` with `headers`: its status, or 'open' (the socket is dropped). */
async function upgradeAt(path: string, headers: Record<string, string> = {}): Promise<number | 'open'> {
  const result = await RawWs.upgrade(app, headers, path);
  if (result instanceof RawWs) {
    result.destroy();
    return 'open';
  }
  return result.status;
}

describe('token-kind confusion', () => {
  it('[contract WS "refresh tokens and tickets are never accepted as Bearer" / RFC 8725 §3.12] a refresh token as Bearer → 401 on HTTP and at the upgrade, and those attempts do not spend it', async () => {
    const user = await registerUser(app.url, 'kind-rt');
    await expectRefusedEverywhere(app, user.refreshToken);
    expect((await refresh(app, user.refreshToken)).status).toBe(200);
  });

  it('[contract WS "refresh tokens and tickets are never accepted as Bearer" / RFC 8725 §3.12] a ticket as Bearer → 401 on HTTP and at the upgrade (header and bearer. subprotocol)', async () => {
    const user = await registerUser(app.url, 'kind-ticket');
    const mint = async (): Promise<string> => {
      const res = await request<{ ticket: string }>(app.url, 'POST', '/ws/ticket', { token: user.accessToken });
      expect(res.status).toBe(201);
      expect(res.headers.get('cache-control')).toContain('no-store');
      return res.body.ticket;
    };
    const ticket = await mint();
    expect((await request(app.url, 'GET', '/auth/me', { headers: { authorization: `Bearer ${ticket}` } })).status).toBe(
      401,
    );
    expect(
      (await request(app.url, 'POST', '/ws/ticket', { headers: { authorization: `Bearer ${ticket}` }, body: {} }))
        .status,
    ).toBe(401);
    expect(await upgradeWith(app, await mint(), 'header')).toBe(401);
    expect(await upgradeWith(app, await mint(), 'subprotocol')).toBe(401);
  });

  it('[contract WS] a ticket as a bare subprotocol value (agentgate.v1, <ticket>) authenticates nothing: 401', async () => {
    const user = await registerUser(app.url, 'kind-ticket-proto');
    const { ticket } = await mintTicket(app, user.accessToken);
    expect(await upgradeAt('/ws', { 'Sec-WebSocket-Protocol': `agentgate.v1, ${ticket}` })).toBe(401);
    expect(await upgradeAt('/ws', { 'Sec-WebSocket-Protocol': `agentgate.v1, ticket.${ticket}` })).toBe(401);
  });

  it('[RFC 6750 §5.3 / CWE-598 / contract WS "Access JWTs are never accepted in a URL"] an access token (or refresh token) in the URL → 401 at the upgrade under every name, even beside a valid Authorization header; GET /auth/me?access_token= → 401', async () => {
    const user = await registerUser(app.url, 'kind-url');
    const at = encodeURIComponent(user.accessToken);
    expect(await upgradeAt(`/ws?ticket=${at}`)).toBe(401);
    expect(await upgradeAt(`/ws?ticket=${encodeURIComponent(user.refreshToken)}`)).toBe(401);
    for (const name of ['access_token', 'token', 'accessToken', 'jwt', 'bearer', 'authorization', 'refresh_token']) {
      expect(await upgradeAt(`/ws?${name}=${at}`), name).toBe(401);
      // Fail closed: a token in the URL is refused even when a valid header comes with it.
      expect(
        await upgradeAt(`/ws?${name}=${at}`, { Authorization: `Bearer ${user.accessToken}` }),
        `${name} + header`,
      ).toBe(401);
    }
    expect(await upgradeAt(`/ws?ticket=${at}`, { Authorization: `Bearer ${user.accessToken}` })).toBe(401);
    expect((await request(app.url, 'GET', `/auth/me?access_token=${at}`)).status).toBe(401);
    expect((await request(app.url, 'GET', `/auth/me?token=${at}`)).status).toBe(401);
    // Control: the same token in the header opens the socket.
    expect(await upgradeAt('/ws', { Authorization: `Bearer ${user.accessToken}` })).toBe('open');
  });

  it('[RFC 6750 §5.3 / CWE-598] HTTP routes never take an access token from the URL: /auth/me, /threads, /runs/:id/events and the SSE stream /runs/:id/stream with ?access_token= or ?token= → 401; ?ticket= is taken by the SSE stream only (CONTRACT v2: for EventSource), single use', async () => {
    const user = await registerUser(app.url, 'kind-http-url');
    const ws = await openBearer(app, user.accessToken);
    ws.send({ type: 'user_message', id: 'm', text: 'hello' });
    const ack = (await ws.next((m) => m.type === 'message_accepted' && m.replyTo === 'm')) as { runId: string };
    await ws.runEvents(ack.runId);
    ws.close();
    const { ticket } = await mintTicket(app, user.accessToken);
    const paths = ['/auth/me', '/threads', `/runs/${ack.runId}/events`, `/runs/${ack.runId}/stream`];
    // Control: with the header every one of them answers 200.
    for (const path of paths)
      expect((await request(app.url, 'GET', path, { token: user.accessToken })).status, path).toBe(200);
    for (const path of paths) {
      for (const query of [
        `access_token=${encodeURIComponent(user.accessToken)}`,
        `token=${encodeURIComponent(user.accessToken)}`,
        ...(path.endsWith('/stream') ? [] : [`ticket=${encodeURIComponent(ticket)}`]),
      ]) {
        const res = await request(app.url, 'GET', `${path}?${query}`);
        expect(res.status, `${path}?${query.slice(0, 12)}`).toBe(401);
      }
    }
    // The stream takes the ticket once (it is spent by that attempt), and never again.
    const stream = `/runs/${ack.runId}/stream?ticket=${encodeURIComponent(ticket)}`;
    expect((await request(app.url, 'GET', stream)).status).toBe(200);
    expect((await request(app.url, 'GET', stream)).status).toBe(401);
  });

  it('[RFC 6750 §2.1] only the Bearer scheme carries an access token: Basic, Token, JWT or no scheme → 401 on HTTP and at the upgrade, and a malformed Authorization header does not fall back to a valid subprotocol', async () => {
    const user = await registerUser(app.url, 'kind-scheme');
    for (const header of [
      `Basic ${user.accessToken}`,
      `Token ${user.accessToken}`,
      `JWT ${user.accessToken}`,
      user.accessToken,
      `Bearer ${user.accessToken} ${user.accessToken}`,
      `Bearer`,
    ]) {
      expect(
        (await request(app.url, 'GET', '/auth/me', { headers: { authorization: header } })).status,
        header.slice(0, 12),
      ).toBe(401);
      expect(await upgradeAt('/ws', { Authorization: header }), header.slice(0, 12)).toBe(401);
      expect(
        await upgradeAt('/ws', {
          Authorization: header,
          'Sec-WebSocket-Protocol': `agentgate.v1, bearer.${user.accessToken}`,
        }),
        `${header.slice(0, 12)} + subprotocol`,
      ).toBe(401);
    }
    expect(await upgradeAt('/ws', { 'Sec-WebSocket-Protocol': `agentgate.v1, bearer.${user.accessToken}` })).toBe(
      'open',
    );
  });

  it('[RFC 8725 §3.12 / contract HTTP API /auth/refresh] an access token or a ticket as refreshToken → 401 invalid_refresh_token; the real login is unaffected', async () => {
    const user = await registerUser(app.url, 'kind-refresh');
    const { ticket } = await mintTicket(app, user.accessToken);
    for (const token of [user.accessToken, ticket]) {
      const res = await refresh(app, token);
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('invalid_refresh_token');
    }
    expect((await me(app, user.accessToken)).status).toBe(200);
    expect((await refresh(app, user.refreshToken)).status).toBe(200);
  });

  it('[RFC 8725 §3.12 / contract HTTP API /auth/logout] an access token or a ticket in the logout body, or the refresh token as its Bearer, → 401 and nothing is revoked', async () => {
    const user = await registerUser(app.url, 'kind-logout');
    const { ticket } = await mintTicket(app, user.accessToken);
    expect((await logout(app, user.accessToken, user.accessToken)).status).toBe(401);
    expect((await logout(app, user.accessToken, ticket)).status).toBe(401);
    expect((await logout(app, user.refreshToken, user.refreshToken)).status).toBe(401);
    expect((await me(app, user.accessToken)).status).toBe(200);
    expect(await upgradeWith(app, user.accessToken)).toBe('open');
    expect((await refresh(app, user.refreshToken)).status).toBe(200);
  });
});
