import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, registerUser, type TestApp } from '../../src/testing/index.js';
import { converse } from './helpers.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A client as a team would write it against the generated types: openapi-fetch, typed by openapi-typescript from
 * the live GET /openapi.json. Type-checked with this repository's tsc (strict), then run with node.
 */
const CLIENT = `
import createClient from 'openapi-fetch';
import type { components, paths } from './api.js';

type ThreadSummary = components['schemas']['ThreadSummary'];
type ErrorCode = components['schemas']['ErrorCode'];

const client = createClient<paths>({ baseUrl: process.env.BASE_URL });

const refused = await client.POST('/auth/login', { body: { email: 'nobody@example.com', password: 'not the password' } });
const refusedCode: string | undefined = refused.error?.error.code;

const login = await client.POST('/auth/login', {
  body: { email: process.env.EMAIL ?? '', password: process.env.PASSWORD ?? '' },
});
if (login.data === undefined) throw new Error('login failed: ' + JSON.stringify(login.error));
const headers = { Authorization: 'Bearer ' + login.data.accessToken };

const threads = await client.GET('/threads', { headers, params: { query: { limit: 10 } } });
if (threads.data === undefined) throw new Error('GET /threads failed: ' + JSON.stringify(threads.error));
const first: ThreadSummary | undefined = threads.data.threads[0];
if (first === undefined) throw new Error('no thread');

const messages = await client.GET('/threads/{id}/messages', { headers, params: { path: { id: first.id } } });
if (messages.data === undefined) throw new Error('GET /threads/{id}/messages failed');
const thread = await client.GET('/threads/{id}', { headers, params: { path: { id: first.id } } });
const missing = await client.GET('/threads/{id}', { headers, params: { path: { id: 'no-such-thread' } } });
const missingCode: ErrorCode | string | undefined = missing.error?.error.code;

console.log(
  JSON.stringify({
    refused: { status: refused.response.status, code: refusedCode },
    userId: login.data.user.id,
    threads: threads.data.threads.map((t) => ({ id: t.id, title: t.title })),
    nextBefore: threads.data.nextBefore,
    messages: messages.data.messages.map((m) => ({ role: m.role, text: m.text, runId: m.runId })),
    runs: thread.data?.thread.runs.map((r) => r.status),
    missing: { status: missing.response.status, code: missingCode },
  }),
);

/** Never called: the generated types refuse what the API does not have. */
export async function refusedAtCompileTime(): Promise<void> {
  // @ts-expect-error: no such route in the document.
  await client.GET('/no-such-route');
  // @ts-expect-error: login needs a password.
  await client.POST('/auth/login', { body: { email: 'a@example.com' } });
  // @ts-expect-error: a thread's messages need its id.
  await client.GET('/threads/{id}/messages', { headers: {} });
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    noUnusedLocals: true,
    skipLibCheck: true,
    types: ['node'],
  },
  files: ['client.ts', 'api.d.ts'],
};

describe('a client generated from GET /openapi.json', () => {
  let app: TestApp;
  let dir: string;
  beforeAll(async () => {
    app = await createTestApp();
    dir = mkdtempSync(join(tmpdir(), 'agentgate-client-'));
  });
  afterAll(async () => {
    await app?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('type-checks, logs in and reads threads and their messages', async () => {
    // A conversation to read: threads start with a message on the socket (there is no HTTP route that makes one).
    const user = await registerUser(app.url, 'client');
    const { runId, threadId, events } = await converse(app.url, user.accessToken, 'calculate 12*7');
    const answer = events.at(-1) as { type: string; text: string };
    expect(answer.type).toBe('agent_completed');

    // Generate: the types come from the live document, not from this repository's source.
    const types = astToString(await openapiTS(new URL(`${app.url}/openapi.json`)));
    writeFileSync(join(dir, 'api.d.ts'), types);
    writeFileSync(join(dir, 'client.ts'), CLIENT);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');

    // Type-check (and compile) with this repository's TypeScript: a type error fails the test with tsc's output.
    const tsc = join(repo, 'node_modules/typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { timeout: 60_000 }).catch(
      (err: Error & { stdout?: string }) => {
        throw new Error(`the generated client does not type-check:\n${err.stdout ?? err.message}`, { cause: err });
      },
    );

    const { stdout } = await run(process.execPath, [join(dir, 'client.js')], {
      timeout: 20_000,
      env: { ...process.env, BASE_URL: app.url, EMAIL: user.email, PASSWORD: user.password },
    });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result).toEqual({
      refused: { status: 401, code: 'invalid_credentials' },
      userId: user.user.id,
      threads: [{ id: threadId, title: 'calculate 12*7' }],
      nextBefore: null,
      messages: [
        { role: 'user', text: 'calculate 12*7', runId },
        { role: 'assistant', text: answer.text, runId },
      ],
      runs: ['completed'],
      missing: { status: 404, code: 'not_found' },
    });
  }, 60_000);
});
