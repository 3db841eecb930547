import { execFileSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/protocol/index.js';
import { FakeLlmServer, openAiReply, openAiToolCall } from '../../src/testing/fake-llm/index.js';
import { registerUser, request, type TestSocket } from '../../src/testing/index.js';
import { EVERYTHING, MEMORY, mcpConfigFile, startEverythingHttp } from './helpers/mcp.js';
import { eventOf, eventually, send, settle, terminalOf, useTestApp, type Of, type User } from './helpers/runs.js';

/** MCP servers from npm behind a language model (a local fake speaking OpenAI's wire protocol). */

const fake = await FakeLlmServer.start('openai');
const remote = await startEverythingHttp();
afterAll(async () => {
  await fake.close();
  await remote.stop();
});

// Set in this process only: a stdio server must never see agentgate's own environment.
process.env.AGENTGATE_TEST_PARENT_SECRET = 'parent-secret-value';

const llmEnv = (mcpConfig: string, extra: Record<string, string> = {}): Record<string, string> => ({
  LLM_PROVIDER: 'openai',
  LLM_BASE_URL: fake.url,
  LLM_MODEL: 'gpt-fake',
  LLM_API_KEY: 'sk-test-not-a-real-key-0123456789',
  MCP_CONFIG: mcpConfig,
  ...extra,
});

/** The model calls `tool` with `args`, then answers "done": returns the run's tool_completed and all its events. */
async function callThroughModel(
  ws: TestSocket,
  tool: string,
  args: unknown,
): Promise<{ completed: Of<'tool_completed'>; events: RunEvent[]; runId: string }> {
  fake.enqueue(openAiToolCall(tool, args), openAiReply({ text: ['done'] }));
  const ack = await send(ws, { id: `m-${Math.random()}`, text: `use ${tool}` });
  await terminalOf(ws, ack.runId, 20_000);
  const events = ws.eventsOf(ack.runId);
  const completed = events.find((e): e is Of<'tool_completed'> => e.type === 'tool_completed');
  if (completed === undefined) throw new Error(`no tool_completed in ${JSON.stringify(events)}`);
  return { completed, events, runId: ack.runId };
}

/** server-memory with one process (and memory file) per user. */
const perUserMemory = {
  command: process.execPath,
  args: [MEMORY],
  env: { MEMORY_FILE_PATH: '${userDir}/memory.jsonl' },
  scope: 'user',
};

/** The pid of the stdio server process running in `dir` (its working directory), if any. */
function processIn(dir: string): number | undefined {
  let pids: string[];
  try {
    pids = execFileSync('pgrep', ['-f', 'server-memory'], { encoding: 'utf8' }).trim().split('\n');
  } catch {
    return undefined;
  }
  return pids.map(Number).find((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`) === dir;
    } catch {
      return false;
    }
  });
}

describe('MCP tools: stdio and Streamable HTTP servers behind an OpenAI-compatible model', () => {
  const config = mcpConfigFile({
    everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], env: { EVERYTHING_TOKEN: 'entry-secret' } },
    memory: perUserMemory,
    sharedmem: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: '${userDir}/memory.jsonl' } },
    broken: { command: '/nonexistent/agentgate-test-mcp-server' },
    remote: { url: remote.url, headers: { 'x-test-secret': 'header-secret' } },
  });
  const t = useTestApp(llmEnv(config, { MCP_TOOL_TIMEOUT_MS: '3000' }), { tools: [] });
  let alice: User;
  let bob: User;
  let aliceWs: TestSocket;
  let bobWs: TestSocket;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([registerUser(t.app.url, 'mcp-alice'), registerUser(t.app.url, 'mcp-bob')]);
    [aliceWs, bobWs] = await Promise.all([t.open(alice), t.open(bob)]);
  });

  it('offers every server’s tools as <server>__<tool> with their input schemas; a server that failed is named in /health/ready, which stays 200', async () => {
    fake.requests.length = 0;
    fake.enqueue(openAiReply({ text: ['hello'] }));
    const ack = await send(aliceWs, { id: 'list', text: 'hello' });
    await terminalOf(aliceWs, ack.runId);
    const body = fake.requests[0]?.body as { tools: Array<{ function: { name: string; parameters: unknown } }> };
    const names = body.tools.map((tool) => tool.function.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'everything__echo',
        'everything__get-sum',
        'memory__create_entities',
        'memory__read_graph',
        'sharedmem__read_graph',
        'remote__echo',
      ]),
    );
    expect(names.every((n) => /^[A-Za-z0-9_-]{1,64}$/.test(n))).toBe(true);
    expect(names.some((n) => n.startsWith('broken__'))).toBe(false);
    const echo = body.tools.find((tool) => tool.function.name === 'everything__echo');
    expect(echo?.function.parameters).toMatchObject({ type: 'object', properties: { message: expect.any(Object) } });

    const ready = await request<Record<string, unknown>>(t.app.url, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ok',
      components: { 'mcp:everything': 'ok', 'mcp:memory': 'ok', 'mcp:remote': 'ok', 'mcp:broken': 'unavailable' },
      degraded: ['mcp:broken'],
    });
    expect(JSON.stringify(ready.body)).not.toMatch(/secret/);
  });

  it('a call returns the text blocks joined, or the structured content; tool_executing names the tool as the model saw it', async () => {
    const echo = await callThroughModel(aliceWs, 'everything__echo', { message: 'hi there' });
    expect(echo.events.find((e) => e.type === 'tool_executing')).toMatchObject({
      tool: 'everything__echo',
      args: { message: 'hi there' },
    });
    expect(echo.completed).toMatchObject({ tool: 'everything__echo', result: 'Echo: hi there' });
    expect(echo.completed.error).toBeUndefined();
    // The model read the result back in its next request.
    expect(JSON.stringify(fake.requests.at(-1)?.body)).toContain('Echo: hi there');

    const weather = await callThroughModel(aliceWs, 'everything__get-structured-content', { location: 'Chicago' });
    expect(weather.completed.result).toMatchObject({ temperature: expect.any(Number), conditions: expect.any(String) });

    const overHttp = await callThroughModel(aliceWs, 'remote__echo', { message: 'over http' });
    expect(overHttp.completed.result).toBe('Echo: over http');
  });

  it('isError is tool_error; no answer within MCP_TOOL_TIMEOUT_MS is tool_timeout, progress notwithstanding; the model goes on', async () => {
    const bad = await callThroughModel(aliceWs, 'everything__get-sum', { a: 'not a number', b: 2 });
    expect(bad.completed.error).toMatchObject({ code: 'tool_error', message: expect.any(String) });
    expect(bad.events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'done' });

    const slow = await callThroughModel(aliceWs, 'everything__trigger-long-running-operation', {
      duration: 8,
      steps: 8,
    });
    expect(slow.completed.error).toMatchObject({ code: 'tool_timeout' });
    expect(slow.completed.durationMs).toBeGreaterThanOrEqual(2_900);
    expect(slow.completed.durationMs).toBeLessThan(5_000);
    expect(slow.events.at(-1)?.type).toBe('agent_completed');
  });

  it('cancelling the run cancels the call at once', async () => {
    fake.enqueue(
      openAiToolCall('everything__trigger-long-running-operation', { duration: 30, steps: 30 }),
      openAiReply({ text: ['never read'] }),
    );
    const ack = await send(aliceWs, { id: 'cancel-mcp', text: 'long' });
    await eventOf(aliceWs, ack.runId, 'tool_executing');
    await settle(300);
    const t0 = Date.now();
    aliceWs.send({ type: 'cancel_run', runId: ack.runId });
    expect((await terminalOf(aliceWs, ack.runId, 2_000)).type).toBe('run_cancelled');
    expect(Date.now() - t0).toBeLessThan(2_000);
    fake.clearReplies();
  });

  it('a stdio server gets PATH, HOME and its own env only, never agentgate’s environment', async () => {
    const { completed } = await callThroughModel(aliceWs, 'everything__get-env', {});
    const env = JSON.parse(String(completed.result)) as Record<string, string>;
    expect(env.EVERYTHING_TOKEN).toBe('entry-secret');
    expect(Object.keys(env).filter((k) => !['PATH', 'HOME', 'EVERYTHING_TOKEN'].includes(k))).toEqual([]);
    expect(JSON.stringify(env)).not.toContain('parent-secret-value');
  });

  it('"scope": "user" keeps users apart (a process and a directory each); "shared" does not', async () => {
    const entity = { name: 'alice-private-note', entityType: 'note', observations: ['only alice may read this'] };
    await callThroughModel(aliceWs, 'memory__create_entities', { entities: [entity] });
    await callThroughModel(aliceWs, 'sharedmem__create_entities', { entities: [entity] });

    const bobsOwn = await callThroughModel(bobWs, 'memory__read_graph', {});
    expect(bobsOwn.completed.error).toBeUndefined();
    expect(JSON.stringify(bobsOwn.completed.result)).not.toContain('alice-private-note');
    const alicesOwn = await callThroughModel(aliceWs, 'memory__read_graph', {});
    expect(JSON.stringify(alicesOwn.completed.result)).toContain('alice-private-note');
    // The leak a shared stateful server causes, which is why docs/AGENTS.md says to choose "user" for it.
    const shared = await callThroughModel(bobWs, 'sharedmem__read_graph', {});
    expect(JSON.stringify(shared.completed.result)).toContain('alice-private-note');

    const dir = join(t.app.dataDir, 'mcp', 'memory', alice.user.id);
    expect(existsSync(join(dir, 'memory.jsonl'))).toBe(true);
    expect(existsSync(join(t.app.dataDir, 'mcp', 'memory', bob.user.id))).toBe(true);
    expect(processIn(dir)).toBeDefined();
    expect(processIn(join(t.app.dataDir, 'mcp', 'memory', bob.user.id))).not.toBe(processIn(dir));
  });
});

describe('MCP tools: an idle per-user process is stopped', () => {
  const config = mcpConfigFile({
    memory: perUserMemory,
  });
  const t = useTestApp(llmEnv(config, { MCP_USER_IDLE_MS: '1000' }), { tools: [] });

  it('starts a user’s process on first use and stops it after MCP_USER_IDLE_MS', async () => {
    const alice = await registerUser(t.app.url, 'mcp-idle');
    const ws = await t.open(alice);
    expect(t.app.mcp?.processCount).toBe(0);
    const entity = { name: 'note', entityType: 'note', observations: ['written by its own process'] };
    const { completed } = await callThroughModel(ws, 'memory__create_entities', { entities: [entity] });
    expect(completed.error).toBeUndefined();
    // The process ran in the user's directory (it may already be stopped: a busy machine takes a second to look).
    expect(existsSync(join(t.app.dataDir, 'mcp', 'memory', alice.user.id, 'memory.jsonl'))).toBe(true);
    await eventually(() => t.app.mcp?.processCount === 0, 8_000, 'the idle process to stop');
    // Stopping closes its stdin first and gives it up to 2 s to exit on its own.
    const dir = join(t.app.dataDir, 'mcp', 'memory', alice.user.id);
    await eventually(() => processIn(dir) === undefined, 8_000, 'the idle process to exit');
  });
});

describe('MCP tools: per-user processes are bounded and restarted with backoff', () => {
  const config = mcpConfigFile({
    memory: perUserMemory,
    slow: { command: process.execPath, args: [EVERYTHING, 'stdio'], scope: 'user' },
  });
  // Idle stops are another describe's: here a slow machine must not stop a process before the test looks at it.
  const t = useTestApp(llmEnv(config, { MCP_USER_IDLE_MS: '600000', MCP_MAX_PROCESSES: '1' }), { tools: [] });
  let alice: User;
  let bob: User;
  let aliceWs: TestSocket;
  let bobWs: TestSocket;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([registerUser(t.app.url, 'mcp-cap-a'), registerUser(t.app.url, 'mcp-cap-b')]);
    [aliceWs, bobWs] = await Promise.all([t.open(alice), t.open(bob)]);
  });
  const processes = (): number => t.app.mcp?.processCount ?? -1;

  it('past MCP_MAX_PROCESSES the idlest process makes room, and when every one is busy the call fails tool_unavailable at once', async () => {
    await callThroughModel(aliceWs, 'memory__read_graph', {});
    const bobs = await callThroughModel(bobWs, 'memory__read_graph', {});
    expect(bobs.completed.error).toBeUndefined();
    expect(processes()).toBe(1);

    fake.enqueue(openAiToolCall('slow__trigger-long-running-operation', { duration: 20, steps: 20 }));
    const busy = await send(aliceWs, { id: 'busy', text: 'long' });
    await eventOf(aliceWs, busy.runId, 'tool_executing');
    await settle(1_500);
    const t0 = Date.now();
    const refused = await callThroughModel(bobWs, 'memory__read_graph', {});
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(refused.completed.error).toMatchObject({
      code: 'tool_unavailable',
      message: expect.stringContaining('MCP_MAX_PROCESSES'),
    });
    aliceWs.send({ type: 'cancel_run', runId: busy.runId });
    await terminalOf(aliceWs, busy.runId);
  });

  it('a process that dies is started again on the next call after a backoff, its files intact', async () => {
    const entity = { name: 'survives-a-crash', entityType: 'note', observations: ['kept on disk'] };
    const created = await callThroughModel(aliceWs, 'memory__create_entities', { entities: [entity] });
    expect(created.completed.error).toBeUndefined();
    const dir = join(t.app.dataDir, 'mcp', 'memory', alice.user.id);
    // /proc shows a process's new working directory a moment after it starts, on a busy machine.
    await eventually(() => processIn(dir) !== undefined, 5_000, "alice's process in her directory");
    const pid = processIn(dir);
    process.kill(pid!, 'SIGKILL');
    await eventually(() => processIn(dir) === undefined, 5_000, 'the process to die');
    await settle(100);
    const during = await callThroughModel(aliceWs, 'memory__read_graph', {});
    expect(during.completed.error).toMatchObject({
      code: 'tool_unavailable',
      message: expect.stringMatching(/again in/),
    });
    await settle(1_200);
    const after = await callThroughModel(aliceWs, 'memory__read_graph', {});
    expect(JSON.stringify(after.completed.result)).toContain('survives-a-crash');
    expect(processIn(dir)).not.toBe(pid);
  });
});
