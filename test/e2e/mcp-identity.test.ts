import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeLlmServer, openAiReply, openAiToolCall } from '../../src/testing/fake-llm/index.js';
import { registerUser, type TestSocket } from '../../src/testing/index.js';
import { mcpConfigFile } from './helpers/mcp.js';
import { eventually, send, terminalOf, useTestApp, type Of, type User } from './helpers/runs.js';

/** MCP servers built for these tests on the official SDK: a changing tool list, and a server that reads identity. */

const CHANGING = fileURLToPath(new URL('../fixtures/mcp-changing-tools.mjs', import.meta.url));
const fake = await FakeLlmServer.start('openai');

/** A stateless Streamable HTTP MCP server whose `whoami` answers with the Authorization header it was sent. */
async function startWhoami(): Promise<{ server: Server; url: string; origin: string }> {
  const server = createServer((req, res) => {
    const mcp = new McpServer({ name: 'whoami', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'Who is calling.' }, async () => ({
      content: [{ type: 'text', text: req.headers.authorization ?? 'nobody' }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    void mcp.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, url: `${origin}/mcp`, origin };
}
const whoami = await startWhoami();
afterAll(async () => {
  await fake.close();
  await new Promise((resolve) => whoami.server.close(resolve));
});

const logLines: string[] = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });

async function callThroughModel(
  ws: TestSocket,
  tool: string,
): Promise<{ runId: string; completed: Of<'tool_completed'> }> {
  fake.enqueue(openAiToolCall(tool, {}), openAiReply({ text: ['done'] }));
  const ack = await send(ws, { id: `m-${Math.random()}`, text: `use ${tool}` });
  await terminalOf(ws, ack.runId, 20_000);
  const completed = ws.eventsOf(ack.runId).find((e): e is Of<'tool_completed'> => e.type === 'tool_completed');
  if (completed === undefined) throw new Error('no tool_completed');
  return { runId: ack.runId, completed };
}

const toolsOffered = (): string[] =>
  ((fake.requests.at(-1)?.body as { tools?: Array<{ function: { name: string } }> }).tools ?? []).map(
    (t) => t.function.name,
  );

describe('MCP: tool lists that change, names models refuse, identity forwarding, secrets kept out of logs', () => {
  const config = mcpConfigFile({
    changing: { command: process.execPath, args: [CHANGING], env: { FIXTURE_SECRET: 'env-secret-value' } },
    me: { url: whoami.url, forwardIdentity: true, headers: { 'x-api-key': 'header-secret-value' } },
  });
  const t = useTestApp(
    {
      LLM_PROVIDER: 'openai',
      LLM_BASE_URL: fake.url,
      LLM_MODEL: 'gpt-fake',
      LLM_API_KEY: 'sk-test-not-a-real-key-0123456789',
      MCP_CONFIG: config,
    },
    { tools: [], logger },
  );
  let user: User;
  let ws: TestSocket;
  beforeAll(async () => {
    user = await registerUser(t.app.url, 'mcp-identity');
    ws = await t.open(user);
  });

  it('a tool name past 64 characters is skipped with a warning; a tools/list_changed brings the new tool to the next run', async () => {
    await callThroughModel(ws, 'changing__add_tool');
    // The server's notification is read, then its list: not necessarily before the model's next step.
    await eventually(() => t.app.mcp?.has('changing__added') === true, 5_000, 'the new tool to be listed');
    fake.enqueue(openAiReply({ text: ['listed'] }));
    const next = await send(ws, { id: 'after-change', text: 'which tools now?' });
    await terminalOf(ws, next.runId);
    const offered = toolsOffered();
    expect(offered).toContain('changing__add_tool');
    expect(offered).toContain('changing__added');
    expect(offered.some((n) => n.includes('xxxxx'))).toBe(false);
    expect(logLines.some((l) => l.includes('mcp tool skipped'))).toBe(true);
    const added = await callThroughModel(ws, 'changing__added');
    expect(added.completed.result).toBe('I was added');
  });

  it('"forwardIdentity" sends the user\'s agent token, verifiable with the JWKS, for that run and that server', async () => {
    const { runId, completed } = await callThroughModel(ws, 'me__whoami');
    const header = String(completed.result);
    expect(header).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const jwks = createRemoteJWKSet(new URL(`${t.app.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(header.slice('Bearer '.length), jwks, {
      audience: whoami.origin,
      typ: 'agent+jwt',
    });
    expect(payload).toMatchObject({ sub: user.user.id, run_id: runId });
    expect(['EdDSA', 'ES256']).toContain(protectedHeader.alg);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
  });

  it('neither env nor headers values reach the logs, even at debug level', () => {
    const all = logLines.join('\n');
    expect(all).toContain('mcp server ready');
    expect(all).not.toContain('env-secret-value');
    expect(all).not.toContain('header-secret-value');
  });
});
