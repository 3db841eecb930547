/**
 * npm run bench -- mcp [--n 500] [--users 10]
 *
 * What a tool call costs through MCP (issue 22): the same echo through ToolRegistry, as a run calls it, for a
 * built-in tool (the baseline, measured in the same run), server-everything over stdio (one shared process), over
 * Streamable HTTP, and server-memory with one process per user. Then the memory each per-user process takes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { z } from 'zod';
import { createRunContext, defineTool, ToolRegistry } from '../src/agents/index.js';
import { McpToolbox } from '../src/mcp/index.js';
import { EVERYTHING, MEMORY, startEverythingHttp } from '../test/e2e/helpers/mcp.js';
import { fixed, mb, quantile } from './lib/stats.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = arg('--n', 500);
const USERS = arg('--users', 10);

const echoTool = defineTool({
  name: 'echo',
  description: 'Echoes its message.',
  parameters: z.object({ message: z.string() }),
  execute: async ({ message }) => `Echo: ${message}`,
});

const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-bench-mcp-'));
const remote = await startEverythingHttp();
const toolbox = new McpToolbox(
  [
    {
      name: 'stdio',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
      env: {},
      scope: 'shared',
      requireApproval: false,
    },
    { name: 'http', transport: 'http', url: remote.url, headers: {}, forwardIdentity: false, requireApproval: false },
    {
      name: 'memory',
      transport: 'stdio',
      command: process.execPath,
      args: [MEMORY],
      env: { MEMORY_FILE_PATH: '${userDir}/memory.jsonl' },
      scope: 'user',
      requireApproval: false,
    },
  ],
  {
    dataDir,
    toolTimeoutMs: 30_000,
    userIdleMs: 600_000,
    maxProcesses: USERS + 1,
    logger: pino({ level: 'silent' }),
  },
);
await toolbox.start();
const registry = new ToolRegistry([echoTool], [toolbox]);
const signal = new AbortController().signal;
const ctxOf = (userId: string) => ({
  run: createRunContext({ userId, threadId: 't', runId: 'r', connectionId: null }),
  signal,
});

/** Sequential calls (a run calls its tools one after another): per-call latency in ms. */
async function latencies(tool: string, args: unknown, userId = 'bench-user'): Promise<number[]> {
  const ctx = ctxOf(userId);
  for (let i = 0; i < 20; i++) await registry.invoke(tool, args, ctx); // warm-up (and the process start, per user)
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const started = performance.now();
    const outcome = await registry.invoke(tool, args, ctx);
    times.push(performance.now() - started);
    if (!outcome.ok) throw new Error(`${tool} failed: ${JSON.stringify(outcome.error)}`);
  }
  return times;
}

try {
  console.log(
    `tool call latency through ToolRegistry, ${N} sequential calls each; baseline: a built-in tool, same run`,
  );
  const baseline = await latencies('echo', { message: 'hello' });
  const b50 = quantile(baseline, 0.5);
  const b99 = quantile(baseline, 0.99);
  console.log(`  built-in echo:              p50 ${fixed(b50, 3)} ms, p99 ${fixed(b99, 3)} ms`);
  const rows: Array<[string, string, unknown]> = [
    ['MCP stdio (shared process)', 'stdio__echo', { message: 'hello' }],
    ['MCP Streamable HTTP', 'http__echo', { message: 'hello' }],
    ['MCP stdio (per-user process)', 'memory__read_graph', {}],
  ];
  for (const [label, tool, args] of rows) {
    const times = await latencies(tool, args);
    const p50 = quantile(times, 0.5);
    const p99 = quantile(times, 0.99);
    console.log(
      `  ${label.padEnd(27)} p50 ${fixed(p50, 3)} ms (+${fixed(p50 - b50, 3)} ms), p99 ${fixed(p99, 3)} ms (+${fixed(p99 - b99, 3)} ms)`,
    );
  }

  // One process per user: start USERS of them, then read each one's resident memory from /proc.
  for (let u = 0; u < USERS; u++) await registry.invoke('memory__read_graph', {}, ctxOf(`user-${u}`));
  const each = childRss('server-memory')
    .map((r) => r.bytes)
    .sort((a, b) => a - b);
  console.log(
    `per-user processes (server-memory): ${toolbox.processCount} running; resident memory each: ` +
      `median ${mb(quantile(each, 0.5))}, max ${mb(each.at(-1) ?? NaN)} (${each.length} processes measured)`,
  );
} finally {
  await toolbox.close();
  await remote.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

/** The resident set of each child process of this one whose command line names `what` (Linux /proc). */
function childRss(what: string): Array<{ pid: number; bytes: number }> {
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/);
  const matching = children.filter((pid) => pid !== '' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(what));
  return matching.map((pid) => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { pid: Number(pid), bytes: kb * 1024 };
  });
}
