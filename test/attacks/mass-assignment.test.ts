import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse, TicketResponse } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import { errorFor, eventOf, send, settle, terminalOf, type Established, type User } from '../e2e/helpers/runs.js';
import { codeOf, expectAuthResponse, freshEmail as email, PASSWORD } from './helpers/identity.js';

/**
 * Mass assignment (OWASP Mass Assignment Cheat Sheet; OWASP API Security Top 10 (2023) API3 Broken Object Property
 * Level Authorization; CWE-915). CONTRACT "Accounts": admins are named by ADMIN_EMAILS; fields such as `role` or
 * `isAdmin` in a request body are ignored. docs/SECURITY.md "Identity and isolation": identity comes from the
 * authenticated connection, never from a client message, so extra fields in a message cannot act as someone else.
 */

const ADMIN_LOCAL = `boss-${randomUUID().slice(0, 8)}`;
const ADMIN = `${ADMIN_LOCAL}@example.com`;

let app: TestApp;
let demo: TestApp;
beforeAll(async () => {
  [app, demo] = await Promise.all([
    createTestApp({ ADMIN_EMAILS: ` someone-else@example.com , ${ADMIN.toUpperCase()} ` }),
    createTestApp({ DEMO_MODE: '1', ADMIN_EMAILS: 'demo@demo.agentgate.invalid' }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), demo?.close()]);
});

/** Fields a client might hope to set on its account or session. */
const PRIVILEGED = (victim?: User): Record<string, unknown> => ({
  role: 'admin',
  roles: ['admin'],
  isAdmin: true,
  admin: true,
  is_admin: 1,
  isDemo: true,
  id: victim?.user.id ?? 'chosen-id',
  userId: victim?.user.id ?? 'chosen-id',
  sub: victim?.user.id ?? 'chosen-id',
  disabledAt: null,
  createdAt: '2000-01-01T00:00:00.000Z',
  passwordHash: '$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
  email_normalized: 'admin@example.com',
  user: { isAdmin: true, role: 'admin' },
});

const me = async (token: string): Promise<AuthResponse['user']> => {
  const res = await request<{ user: AuthResponse['user'] }>(app.url, 'GET', '/auth/me', { token });
  expect(res.status).toBe(200);
  return res.body.user;
};

describe('mass assignment: account bodies', () => {
  it('[OWASP Mass Assignment Cheat Sheet, CONTRACT "Accounts"] role / isAdmin in the register body are ignored (user.isAdmin stays false, /auth/stats stays 403)', async () => {
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/register', {
      body: {
        email: email(),
        password: PASSWORD,
        role: 'admin',
        isAdmin: true,
        admin: true,
        isDemo: true,
        id: 'chosen-id',
      },
    });
    expectAuthResponse(res, 201);
    expect(res.body.user.isAdmin).toBe(false);
    expect(res.body.user.id).not.toBe('chosen-id');
    const meRes = await request<{ user: { isAdmin: boolean } }>(app.url, 'GET', '/auth/me', {
      token: res.body.accessToken,
    });
    expect(meRes.body.user.isAdmin).toBe(false);
    const stats = await request(app.url, 'GET', '/auth/stats', { token: res.body.accessToken });
    expect(stats.status).toBe(403);
    expect(codeOf(stats)).toBe('forbidden');
  });

  it('[OWASP Mass Assignment Cheat Sheet, CWE-915] register ignores id, createdAt, passwordHash, isDemo, nested user and __proto__ fields: the account is made only of email, password and displayName', async () => {
    const victim = await registerUser(app.url, 'victim');
    const userEmail = email('over-post');
    const body = `{"__proto__":{"isAdmin":true,"role":"admin"},"constructor":{"prototype":{"isAdmin":true}},${JSON.stringify({ ...PRIVILEGED(victim), email: userEmail, password: PASSWORD, displayName: 'Mallory' }).slice(1)}`;
    const started = Date.now();
    const res = await request<AuthResponse>(app.url, 'POST', '/auth/register', { body });
    expectAuthResponse(res, 201);
    const user = res.body.user;
    expect(user).toMatchObject({ email: userEmail, displayName: 'Mallory', isAdmin: false, isDemo: false });
    expect(user.id).not.toBe(victim.user.id);
    expect(user.id).not.toBe('chosen-id');
    expect(Date.parse(user.createdAt)).toBeGreaterThanOrEqual(started - 1_000);
    expect(await me(res.body.accessToken)).toEqual(user);
    // The password is the one that counts, not the hash sent along.
    expect(
      (await request(app.url, 'POST', '/auth/login', { body: { email: userEmail, password: PASSWORD } })).status,
    ).toBe(200);
    expect(
      (await request(app.url, 'POST', '/auth/login', { body: { email: userEmail, password: 'password' } })).status,
    ).toBe(401);
    // The victim is untouched, and nothing was polluted in this (the server's) process.
    expect(await me(victim.accessToken)).toMatchObject({ id: victim.user.id, email: victim.email, isAdmin: false });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect((await request(app.url, 'GET', '/auth/stats', { token: res.body.accessToken })).status).toBe(403);
  });

  it("[OWASP Mass Assignment Cheat Sheet, CWE-915] login and refresh bodies naming another user (userId, sub, id) or a role sign in the credential's owner only, never as admin", async () => {
    const [mallory, victim] = await Promise.all([registerUser(app.url, 'mallory'), registerUser(app.url, 'victim')]);
    const login = await request<AuthResponse>(app.url, 'POST', '/auth/login', {
      body: { ...PRIVILEGED(victim), email: mallory.email, password: mallory.password },
    });
    expectAuthResponse(login, 200);
    expect(login.body.user.id).toBe(mallory.user.id);
    expect((await me(login.body.accessToken)).id).toBe(mallory.user.id);

    const refreshed = await request<AuthResponse>(app.url, 'POST', '/auth/refresh', {
      body: { ...PRIVILEGED(victim), refreshToken: login.body.refreshToken },
    });
    expectAuthResponse(refreshed, 200);
    expect(refreshed.body.user.id).toBe(mallory.user.id);
    expect(await me(refreshed.body.accessToken)).toMatchObject({ id: mallory.user.id, isAdmin: false });
    expect((await request(app.url, 'GET', '/auth/stats', { token: refreshed.body.accessToken })).status).toBe(403);
  });

  it('[OWASP Mass Assignment Cheat Sheet, CONTRACT "Accounts"] POST /auth/demo ignores every field: a fresh throwaway user, demo and not admin, even naming an ADMIN_EMAILS address', async () => {
    const victim = await registerUser(demo.url, 'demo-victim');
    for (const body of [
      { ...PRIVILEGED(victim), email: 'demo@demo.agentgate.invalid', isDemo: false },
      { email: victim.email, password: victim.password },
    ]) {
      const res = await request<AuthResponse>(demo.url, 'POST', '/auth/demo', { body });
      expect(res.status).toBe(201);
      expect(res.body.user).toMatchObject({ isAdmin: false, isDemo: true });
      expect(res.body.user.id).not.toBe(victim.user.id);
      expect(res.body.user.email).toMatch(/^demo-[0-9a-f-]{36}@demo\.agentgate\.invalid$/);
      expect((await request(demo.url, 'GET', '/auth/stats', { token: res.body.accessToken })).status).toBe(403);
    }
  });
});

describe('mass assignment: admin only through ADMIN_EMAILS', () => {
  it('[OWASP Mass Assignment Cheat Sheet, CONTRACT "Accounts" ADMIN_EMAILS] the listed address (any case) is admin with /auth/stats 200; look-alike addresses are not, whatever they send', async () => {
    const admin = await request<AuthResponse>(app.url, 'POST', '/auth/register', {
      body: { email: `${ADMIN_LOCAL.toUpperCase()}@Example.COM`, password: PASSWORD },
    });
    expect(admin.status).toBe(201);
    expect(admin.body.user.isAdmin).toBe(true);
    const stats = await request<Record<string, unknown>>(app.url, 'GET', '/auth/stats', {
      token: admin.body.accessToken,
    });
    expect(stats.status).toBe(200);
    expect(stats.body).toHaveProperty('totalValidations');
    // A later login, in any case, is admin as well: it is the account's email that counts.
    const again = await request<AuthResponse>(app.url, 'POST', '/auth/login', {
      body: { email: ADMIN, password: PASSWORD },
    });
    expect(again.body.user).toMatchObject({ id: admin.body.user.id, isAdmin: true });

    const lookAlikes = [
      `${ADMIN}.evil.com`,
      `${ADMIN_LOCAL}@example.co`,
      `${ADMIN_LOCAL}+x@example.com`,
      `x${ADMIN}`,
      `${ADMIN_LOCAL}@sub.example.com`,
      `${ADMIN_LOCAL}@example.com.`,
      `"${ADMIN_LOCAL}"@example.com`,
      ADMIN.replace('b', '\u0431'), // Cyrillic be
      ADMIN.replace('o', '\u03bf'), // Greek omicron
      ADMIN.replace('@', '\uff20'), // fullwidth commercial at
    ];
    for (const address of lookAlikes) {
      const res = await request<AuthResponse>(app.url, 'POST', '/auth/register', {
        body: { ...PRIVILEGED(), email: address, password: PASSWORD },
      });
      // Refused as an address (400), or taken (409: it is the admin's own, after normalization): never an admin account.
      expect([201, 400, 409], address).toContain(res.status);
      if (res.status !== 201) continue;
      expect({ address, isAdmin: res.body.user.isAdmin }).toEqual({ address, isAdmin: false });
      const denied = await request(app.url, 'GET', '/auth/stats', { token: res.body.accessToken });
      expect({ address, status: denied.status, code: codeOf(denied) }).toEqual({
        address,
        status: 403,
        code: 'forbidden',
      });
    }
  });
});

describe('mass assignment: WebSocket identity comes from the connection', () => {
  let alice: User;
  let bob: User;
  let aWs: TestSocket;
  let bWs: TestSocket;
  const sockets: TestSocket[] = [];
  const openAs = async (user: User, query = ''): Promise<TestSocket> => {
    const ws = await TestSocket.open(wsUrl(app.url, query), {
      headers: { authorization: `Bearer ${user.accessToken}` },
    });
    sockets.push(ws);
    return ws;
  };
  beforeAll(async () => {
    [alice, bob] = await Promise.all([registerUser(app.url, 'ws-alice'), registerUser(app.url, 'ws-bob')]);
    [aWs, bWs] = await Promise.all([openAs(alice), openAs(bob)]);
  });
  afterAll(() => {
    for (const s of sockets) s.close();
  });

  const threadIds = async (user: User): Promise<string[]> =>
    (
      await request<{ threads: Array<{ id: string }> }>(app.url, 'GET', '/threads', { token: user.accessToken })
    ).body.threads.map((t) => t.id);

  it("[OWASP Mass Assignment Cheat Sheet, CWE-915] user_message carrying Bob's userId, sub and connectionId starts a run of Alice's, seen by Alice only", async () => {
    const bEstablished = (await bWs.next((m) => m.type === 'connection_established')) as Established;
    const bThreadsBefore = await threadIds(bob);
    const bSeen = bWs.messages.length;
    aWs.send({
      type: 'user_message',
      id: 'as-bob',
      text: 'calculate 6*7',
      userId: bob.user.id,
      sub: bob.user.id,
      user: { id: bob.user.id },
      connectionId: bEstablished.connectionId,
      isAdmin: true,
    });
    const ack = await aWs.next((m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === 'as-bob');
    expect(ack.type).toBe('message_accepted');
    const { runId, threadId } = ack as { runId: string; threadId: string };
    expect((await terminalOf(aWs, runId)).type).toBe('agent_completed');
    await settle(200);
    expect(bWs.messages.slice(bSeen)).toEqual([]);
    expect(await threadIds(bob)).toEqual(bThreadsBefore);
    expect(await threadIds(alice)).toContain(threadId);
    expect((await request(app.url, 'GET', `/runs/${runId}/events`, { token: bob.accessToken })).status).toBe(404);
    expect((await request(app.url, 'GET', `/runs/${runId}/events`, { token: alice.accessToken })).status).toBe(200);
  });

  it('[OWASP Mass Assignment Cheat Sheet, CWE-915] user_message cannot choose its runId or ask for createThread: a taken runId is not reused, an unknown threadId stays not_found', async () => {
    const bobRun = await send(bWs, { id: 'bob-owned', text: 'calculate 1+1' });
    await terminalOf(bWs, bobRun.runId);
    const bobEvents = async (): Promise<unknown> =>
      (await request<{ events: unknown[] }>(app.url, 'GET', `/runs/${bobRun.runId}/events`, { token: bob.accessToken }))
        .body.events;
    const bobEventsBefore = await bobEvents();
    const bSeen = bWs.messages.length;
    aWs.send({
      type: 'user_message',
      id: 'pick-run',
      text: 'calculate 2+2',
      runId: bobRun.runId,
      threadId: undefined,
      seq: 1,
    });
    const picked = await aWs.next(
      (m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === 'pick-run',
    );
    expect(picked.type).toBe('message_accepted');
    const { runId } = picked as { runId: string };
    expect(runId).not.toBe(bobRun.runId);
    expect((await terminalOf(aWs, runId)).type).toBe('agent_completed');

    const fresh = randomUUID();
    aWs.send({ type: 'user_message', id: 'make-thread', threadId: fresh, createThread: true, text: 'calculate 3+3' });
    expect(await errorFor(aWs, 'make-thread')).toMatchObject({ code: 'not_found' });
    aWs.send({
      type: 'user_message',
      id: 'make-thread-in-bobs',
      threadId: bobRun.threadId,
      createThread: true,
      runId: randomUUID(),
      text: 'calculate 3+3',
    });
    expect(await errorFor(aWs, 'make-thread-in-bobs')).toMatchObject({ code: 'not_found' });
    expect(await threadIds(alice)).not.toContain(fresh);
    await settle(200);
    expect(bWs.messages.slice(bSeen)).toEqual([]);
    expect(await bobEvents()).toEqual(bobEventsBefore);
  });

  it("[OWASP Mass Assignment Cheat Sheet, CWE-915] cancel_run and resume naming the owner as userId are still not_found for Alice, and Bob's run goes on", async () => {
    const live = await send(bWs, { id: 'bob-live', text: 'wait 2 seconds' });
    await eventOf(bWs, live.runId, 'tool_executing');
    aWs.send({ type: 'cancel_run', id: 'cancel-as-bob', runId: live.runId, userId: bob.user.id, sub: bob.user.id });
    aWs.send({
      type: 'resume',
      id: 'resume-as-bob',
      runId: live.runId,
      afterSeq: 0,
      userId: bob.user.id,
      sub: bob.user.id,
    });
    expect(await errorFor(aWs, 'cancel-as-bob')).toMatchObject({ code: 'not_found' });
    expect(await errorFor(aWs, 'resume-as-bob')).toMatchObject({ code: 'not_found' });
    await settle(200);
    expect(aWs.messages.filter((m) => 'runId' in m && m.runId === live.runId)).toEqual([]);
    expect((await terminalOf(bWs, live.runId, 10_000)).type).toBe('agent_completed');
  });

  it("[OWASP Mass Assignment Cheat Sheet, CWE-915] ?userId= / ?sub= on the upgrade and userId in the ticket request change nothing: the socket is the credential's user", async () => {
    const viaQuery = await openAs(alice, `?userId=${bob.user.id}&sub=${bob.user.id}&user_id=${bob.user.id}`);
    expect(((await viaQuery.next((m) => m.type === 'connection_established')) as Established).userId).toBe(
      alice.user.id,
    );

    const ticket = await request<TicketResponse>(app.url, 'POST', '/ws/ticket', {
      token: alice.accessToken,
      body: { userId: bob.user.id, sub: bob.user.id, user: { id: bob.user.id } },
    });
    expect(ticket.status).toBe(201);
    const viaTicket = await TestSocket.open(ticket.body.url);
    sockets.push(viaTicket);
    expect(((await viaTicket.next((m) => m.type === 'connection_established')) as Established).userId).toBe(
      alice.user.id,
    );
  });
});
