import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientError } from '../../src/client/node.js';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { clientOf, PASSWORD, recordStates, uniqueEmail, until } from './helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

const NEW_PASSWORD = 'a much longer passphrase 42';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ClientError) return err.code;
    throw err;
  }
  return 'resolved';
}

describe('SDK: thread and account lifecycle', () => {
  it('renameThread and deleteThread: the new title is listed; a deleted thread is not_found', async () => {
    const client = clientOf(app);
    try {
      await client.register(uniqueEmail('sdk-rename'), PASSWORD);
      const handle = client.run('calculate 1+1');
      await handle.done;
      const { threadId } = await handle.accepted;
      const renamed = await client.renameThread(threadId, '  Sums  ');
      expect(renamed).toMatchObject({ id: threadId, title: 'Sums' });
      expect((await client.threads()).map((t) => t.title)).toEqual(['Sums']);
      await expect(codeOf(client.renameThread(threadId, '   '))).resolves.toBe('invalid_request');
      await client.deleteThread(threadId);
      await expect(codeOf(client.messages(threadId))).resolves.toBe('not_found');
      await expect(codeOf(client.deleteThread(threadId))).resolves.toBe('not_found');
      expect(await client.threads()).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('sessions() marks this login; endSession ends another one, whose socket closes session_revoked', async () => {
    const email = uniqueEmail('sdk-sessions');
    const one = clientOf(app);
    const two = clientOf(app);
    try {
      await one.register(email, PASSWORD);
      await two.login(email, PASSWORD);
      await two.connect();
      const states = recordStates(two);
      const sessions = await one.sessions();
      expect(sessions).toHaveLength(2);
      const mine = sessions.filter((s) => s.current);
      expect(mine).toHaveLength(1);
      const other = sessions.find((s) => !s.current);
      if (other === undefined) throw new Error('no other session');
      await one.endSession(other.id);
      await until(() => two.state === 'closed', 'the revoked client to close');
      expect(states.at(-1)?.detail?.error?.code).toBe('session_revoked');
      expect(two.user).toBeNull();
      expect((await one.sessions()).map((s) => s.current)).toEqual([true]);
    } finally {
      one.close();
      two.close();
    }
  });

  it('changePassword: a new login here, still connected, a run in progress goes on; the old password and other logins are refused', async () => {
    const email = uniqueEmail('sdk-password');
    const refreshTokens: Array<string | null> = [];
    const client = clientOf(app, { onRefreshToken: (t) => refreshTokens.push(t) });
    const other = clientOf(app);
    try {
      await client.register(email, PASSWORD);
      await other.login(email, PASSWORD);
      await other.connect();
      await client.connect();
      const states = recordStates(client);
      await expect(codeOf(client.changePassword('wrong password', NEW_PASSWORD))).resolves.toBe('invalid_credentials');
      await expect(codeOf(client.changePassword(PASSWORD, 'password'))).resolves.toBe('invalid_request');
      await until(() => client.state === 'connected', 'the client to reconnect after a refusal');

      const handle = client.run('wait 1 seconds');
      await handle.accepted;
      const user = await client.changePassword(PASSWORD, NEW_PASSWORD);
      expect(user.email).toBe(email);
      expect(refreshTokens.at(-1)).toMatch(/^rt_/);
      expect(refreshTokens).not.toContain(null);
      await expect(handle.done).resolves.toMatchObject({ type: 'agent_completed' });
      expect(client.state).toBe('connected');
      expect(states.map((s) => s.state)).not.toContain('closed');
      await until(() => other.state === 'closed', 'the other login to end');
      expect(await client.sessions()).toHaveLength(1);

      await expect(codeOf(clientOf(app).login(email, PASSWORD))).resolves.toBe('invalid_credentials');
      const again = clientOf(app);
      await again.login(email, NEW_PASSWORD);
      again.close();
    } finally {
      client.close();
      other.close();
    }
  });

  it('logoutEverywhere ends every login, this one too', async () => {
    const email = uniqueEmail('sdk-everywhere');
    const one = clientOf(app);
    const two = clientOf(app);
    try {
      await one.register(email, PASSWORD);
      await two.login(email, PASSWORD);
      await Promise.all([one.connect(), two.connect()]);
      await one.logoutEverywhere();
      expect(one.state).toBe('closed');
      expect(one.user).toBeNull();
      await until(() => two.state === 'closed', 'the other login to end');
      await expect(codeOf(one.threads())).resolves.toBe('not_authenticated');
    } finally {
      one.close();
      two.close();
    }
  });

  it('deleteAccount: a wrong password deletes nothing and keeps the socket; the right one ends everything', async () => {
    const email = uniqueEmail('sdk-delete');
    const client = clientOf(app);
    try {
      await client.register(email, PASSWORD);
      await client.connect();
      await expect(codeOf(client.deleteAccount('not my password'))).resolves.toBe('invalid_credentials');
      await until(() => client.state === 'connected', 'the client to reconnect after a refusal');
      expect(client.user?.email).toBe(email);
      await client.deleteAccount(PASSWORD);
      expect(client.state).toBe('closed');
      expect(client.user).toBeNull();
      await expect(codeOf(clientOf(app).login(email, PASSWORD))).resolves.toBe('invalid_credentials');
    } finally {
      client.close();
    }
  });
});
