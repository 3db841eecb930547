import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app/logger.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';

/**
 * CONTRACT Tokens / CWE-532: logs never contain passwords, tokens, tickets (`ticket=[redacted]`) or Authorization /
 * Sec-WebSocket-Protocol values. The app runs with the production logger (createLogger) at trace level, into memory.
 */

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
    done();
  },
});

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ ALLOWED_ORIGINS: 'https://app.example.com' }, { logger: createLogger({ logLevel: 'trace' }, sink) });
});
afterAll(async () => {
  await app?.close();
});

const settle = <T>(p: Promise<T>) => p.then((v) => (v instanceof TestSocket ? v.close() : undefined), () => undefined);

describe('secrets stay out of the logs', () => {
  it('CWE-532: tickets, access and refresh tokens, passwords and subprotocol values never reach a log line', async () => {
    const user = await registerUser(app.url, 'logs');
    const login = await request<{ accessToken: string; refreshToken: string }>(app.url, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    const secrets: string[] = [user.password, user.accessToken, user.refreshToken, login.body.accessToken, login.body.refreshToken];
    const ticket = async () => {
      const res = await request<{ ticket: string; url: string }>(app.url, 'POST', '/ws/ticket', { token: user.accessToken, body: {} });
      secrets.push(res.body.ticket);
      return res.body;
    };

    // A ticket that opens a socket, one refused for its Origin, one replayed, one on a plain GET.
    const good = await ticket();
    await settle(TestSocket.open(good.url, { origin: 'https://app.example.com' }));
    await settle(TestSocket.open(good.url));
    const refused = await ticket();
    await settle(TestSocket.open(refused.url, { origin: 'https://evil.example.com' }));
    const plain = await ticket();
    await request(app.url, 'GET', `/ws?ticket=${plain.ticket}`);
    // Access tokens where they are refused (URL) and accepted (header, subprotocol), and a mismatching authenticate.
    await settle(TestSocket.open(`${wsUrl(app.url)}?token=${user.accessToken}&access_token=${login.body.accessToken}`));
    await settle(TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } }));
    await settle(TestSocket.open(wsUrl(app.url), { protocols: ['agentgate.v1', `bearer.${login.body.accessToken}`] }));
    await request(app.url, 'GET', '/auth/me', { token: `${user.accessToken}x` });
    const other = await registerUser(app.url, 'logs-other');
    secrets.push(other.accessToken, other.refreshToken);
    const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
    ws.send({ type: 'authenticate', token: other.accessToken });
    await ws.waitClose(5_000);
    await request(app.url, 'POST', '/auth/refresh', { body: { refreshToken: login.body.refreshToken } });

    expect(lines.length, 'the logger captured something').toBeGreaterThan(0);
    for (const secret of secrets) {
      const leaks = lines.filter((l) => l.includes(secret) || l.includes(secret.slice(-24)));
      expect(leaks, `a secret starting ${secret.slice(0, 6)}… was logged`).toEqual([]);
    }
    for (const line of lines.filter((l) => /ticket=/.test(l))) expect(line).toMatch(/ticket=\[redacted\]/);
    expect(lines.filter((l) => /bearer\.[A-Za-z0-9_-]{8}/i.test(l))).toEqual([]);
  });
});
