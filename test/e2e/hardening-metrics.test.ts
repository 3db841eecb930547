import { describe, expect, it } from 'vitest';
import { createTestApp, registerUser, request, TestSocket, wsUrl } from '../../src/testing/index.js';
import { connect, send, terminalOf, useTestApp } from './helpers/runs.js';

/**
 * Hardening: GET /metrics (Prometheus text) counts handshakes by status, messages sent, run durations by status
 * and rate-limited requests, and never carries a user identifier, an email or a token.
 */

const server = useTestApp({ LOGIN_ATTEMPTS_PER_MINUTE: '2' });

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metrics(): Promise<string> {
  const res = await request<string>(server.app.url, 'GET', '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  expect(typeof res.body).toBe('string');
  return res.body;
}

describe('hardening: metrics', () => {
  it('counts handshakes (101 and 401), messages sent, completed runs and rate limits, without user data', async () => {
    const before = await metrics();
    const user = await registerUser(server.app.url, 'metrics');

    // One accepted handshake, one refused with 401.
    const ws = await server.open(user);
    const refused = await TestSocket.open(wsUrl(server.app.url), {
      headers: { authorization: 'Bearer not-a-token' },
    }).then(
      (s) => (s.close(), 'opened'),
      (err: { status?: number }) => err.status,
    );
    expect(refused).toBe(401);

    // A completed run.
    const ack = await send(ws, { id: 'm', text: 'calculate 6*7' });
    expect((await terminalOf(ws, ack.runId, 10_000)).type).toBe('agent_completed');

    // A rate-limited login: LOGIN_ATTEMPTS_PER_MINUTE=2 per IP (registration counted too).
    let limited: Awaited<ReturnType<typeof request>> | undefined;
    for (let i = 0; i < 4 && limited === undefined; i++) {
      const res = await request(server.app.url, 'POST', '/auth/login', {
        body: { email: user.email, password: user.password },
      });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited?.status).toBe(429);
    expect((limited?.body as { error: { code: string } }).error.code).toBe('rate_limited');
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);

    const body = await metrics();
    const delta = (series: string): number => (sample(body, series) ?? 0) - (sample(before, series) ?? 0);
    expect(body).toContain('agentgate_ws_handshakes_total{status="101"}');
    expect(body).toContain('agentgate_ws_handshakes_total{status="401"}');
    expect(delta('agentgate_ws_handshakes_total{status="101"}')).toBe(1);
    expect(delta('agentgate_ws_handshakes_total{status="401"}')).toBe(1);
    // connection_established, message_accepted, message_added and the run's events at least.
    expect(sample(body, 'agentgate_ws_messages_sent_total')).toBeGreaterThanOrEqual(ws.messages.length);
    expect(delta('agentgate_run_duration_seconds_count{status="completed"}')).toBe(1);
    expect(sample(body, 'agentgate_run_duration_seconds_sum{status="completed"}')).toBeGreaterThan(0);
    expect(body).toMatch(/^agentgate_rate_limited_total\{[^}]*\} [1-9]/m);
    expect(body).toContain('agentgate_ws_connections');

    // No user identifiers, emails or credentials in the public metrics.
    expect(body).not.toContain(user.user.id);
    expect(body).not.toContain(user.email);
    expect(body).not.toMatch(/[\w.+-]+@[\w-]+\.[\w.]+/);
    expect(body).not.toContain(user.accessToken);
    expect(body).not.toContain(user.refreshToken);
    expect(body).not.toContain(ack.runId);
    expect(body).not.toContain(ack.threadId);
    const connectionId = (ws.messages[0] as { connectionId: string }).connectionId;
    expect(body).not.toContain(connectionId);
  });

  it('the connections gauge follows open sockets', async () => {
    // Its own app: the first one's login/register budget (2 a minute) is spent.
    const target = await createTestApp();
    try {
      const who = await registerUser(target.url, 'metrics-gauge');
      const read = async (): Promise<number | undefined> =>
        sample((await request<string>(target.url, 'GET', '/metrics')).body, 'agentgate_ws_connections');
      expect(await read()).toBe(0);
      const a = await connect(target, who);
      const b = await connect(target, who);
      expect(await read()).toBe(2);
      a.close();
      b.close();
      await Promise.all([a.waitClose(3_000), b.waitClose(3_000)]);
      const deadline = Date.now() + 3_000;
      while ((await read()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await read()).toBe(0);
    } finally {
      await target.close();
    }
  });

  it('counts access-token validations and refresh-token reuse, as GET /auth/stats does', async () => {
    const target = await createTestApp();
    try {
      const read = async (kind: string): Promise<number> =>
        sample(
          (await request<string>(target.url, 'GET', '/metrics')).body,
          `agentgate_auth_events_total{kind="${kind}"}`,
        ) ?? 0;
      const who = await registerUser(target.url, 'metrics-auth');
      const validations = await read('validation');
      for (let i = 0; i < 3; i++) await request(target.url, 'GET', '/auth/me', { token: who.accessToken });
      expect((await read('validation')) - validations).toBe(3);
      const reuse = await read('refresh_reuse');
      expect(
        (await request(target.url, 'POST', '/auth/refresh', { body: { refreshToken: who.refreshToken } })).status,
      ).toBe(200);
      expect(
        (await request(target.url, 'POST', '/auth/refresh', { body: { refreshToken: who.refreshToken } })).status,
      ).toBe(401);
      expect((await read('refresh_reuse')) - reuse).toBe(1);
    } finally {
      await target.close();
    }
  });
});
