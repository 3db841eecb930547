/**
 * A load generator process (bench/compare.ts starts several). It targets 127.0.0.1 only, holds at most the
 * connections it is told to open, runs each loop for the time it is given, and exits by itself when the parent
 * goes away or its lifetime ends. Connections are kept in named groups (one per server under test), so the
 * connections to every server can stay open across interleaved passes. Commands (over IPC, with `group`):
 *   open {port, path, auth, tokens, count, waitFirstFrame}  mint tickets if auth = ticket, then open `count` sockets
 *   closedStart / closedStop                                closed-loop requests on every open socket
 *   mark                                                    counters and own CPU (the parent takes differences)
 *   openLoop {requestsPerSecond, warmupMs, windowMs}        fixed-rate requests, latency samples back
 *   prepareHandshakes {port, path, auth, tokens, count, waitFirstFrame}   credentials (tickets minted, not timed)
 *   handshakes {concurrency}                                upgrade with each, drop each socket once usable
 *   stall {requestsPerSecond, durationMs, read}             one socket keeps asking; it stops reading unless `read`
 *   closeAll                                                close the group's sockets (every group's when none is named)
 */
import { performance } from 'node:perf_hooks';
import { announceReady, processStats, serveCommands, type Command } from '../lib/child-ipc.js';
import { requestFrame } from '../lib/workload.js';
import { ClosedLoop, LoadConnection, newCounters, openLoop } from './loops.js';
import { RawWs, UpgradeRefused, type Credential } from './raw-ws.js';
import { mintTickets } from './tickets.js';

type Auth = 'none' | 'ticket' | 'bearer' | 'subprotocol';

const name = process.argv[2] ?? 'g';
const counters = newCounters();
const groups = new Map<string, LoadConnection[]>();
const loops = new Map<string, ClosedLoop>();
let opened = 0;

const keyOf = (c: Command): string => (c.group as string | undefined) ?? 'default';
const groupOf = (c: Command): LoadConnection[] => {
  const key = keyOf(c);
  let conns = groups.get(key);
  if (conns === undefined) groups.set(key, (conns = []));
  return conns;
};

const OPEN_CONCURRENCY = 64;
const UPGRADE_TIMEOUT_MS = 15_000;

/** Credentials for `count` sockets: tickets are minted here (timed separately from the upgrades). */
async function credentials(
  port: number,
  auth: Auth,
  tokens: readonly string[],
  count: number,
): Promise<{ creds: Credential[]; mintMs: number }> {
  const pick = (i: number): string => tokens[i % tokens.length]!;
  if (auth === 'none') return { creds: Array.from({ length: count }, () => ({ kind: 'none' })), mintMs: 0 };
  if (auth === 'ticket') {
    const { tickets, ms } = await mintTickets(
      port,
      Array.from({ length: count }, (_, i) => pick(i)),
    );
    return { creds: tickets.map((ticket) => ({ kind: 'ticket', ticket })), mintMs: ms };
  }
  return { creds: Array.from({ length: count }, (_, i) => ({ kind: auth, token: pick(i) })), mintMs: 0 };
}

/** Runs `work(i)` for i in [0, count) with `concurrency` in flight. */
async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

function tally(statuses: Record<string, number>, err: unknown): void {
  const key =
    err instanceof UpgradeRefused ? String(err.status) : err instanceof Error ? err.message.slice(0, 60) : 'error';
  statuses[key] = (statuses[key] ?? 0) + 1;
}

async function open(c: Command): Promise<unknown> {
  const port = c.port as number;
  const { creds, mintMs } = await credentials(port, c.auth as Auth, c.tokens as string[], c.count as number);
  const failures: Record<string, number> = {};
  const conns = groupOf(c);
  const t0 = performance.now();
  await pool(creds.length, OPEN_CONCURRENCY, async (i) => {
    try {
      const ws = await RawWs.open({
        port,
        path: c.path as string,
        credential: creds[i]!,
        waitFirstFrame: c.waitFirstFrame === true,
        timeoutMs: UPGRADE_TIMEOUT_MS,
      });
      conns.push(new LoadConnection(ws, `${name}-${opened++}`, counters));
    } catch (err) {
      tally(failures, err);
    }
  });
  return { opened: conns.length, failures, mintMs, connectMs: performance.now() - t0 };
}

let prepared: { creds: Credential[]; port: number; path: string; waitFirstFrame: boolean } | undefined;

/** Gets the credentials of the next `handshakes` ready (tickets are minted here, outside the timed part). */
async function prepareHandshakes(c: Command): Promise<unknown> {
  const port = c.port as number;
  const { creds, mintMs } = await credentials(port, c.auth as Auth, c.tokens as string[], c.count as number);
  prepared = { creds, port, path: c.path as string, waitFirstFrame: c.waitFirstFrame === true };
  return { mintMs, minted: c.auth === 'ticket' ? creds.length : 0 };
}

/** Upgrades with each prepared credential (`concurrency` at a time), and drops each socket once it is usable. */
async function handshakes(c: Command): Promise<unknown> {
  if (prepared === undefined) throw new Error('prepareHandshakes first');
  const { creds, port, path, waitFirstFrame } = prepared;
  prepared = undefined;
  const statuses: Record<string, number> = {};
  const before = processStats(false);
  await pool(creds.length, c.concurrency as number, async (i) => {
    try {
      const ws = await RawWs.open({ port, path, credential: creds[i]!, waitFirstFrame, timeoutMs: UPGRADE_TIMEOUT_MS });
      statuses['101'] = (statuses['101'] ?? 0) + 1;
      ws.destroy();
    } catch (err) {
      tally(statuses, err);
    }
  });
  const after = processStats(false);
  return { statuses, ms: after.wallMs - before.wallMs, cpuUs: after.cpuUs - before.cpuUs };
}

/**
 * One socket that keeps sending requests at a fixed rate and, unless `read` (the control run), never reads: the
 * server's send queue for it can only grow until the server does something about it.
 */
async function stall(c: Command): Promise<unknown> {
  const target = groupOf(c)[0];
  if (target === undefined) throw new Error('stall needs one open socket');
  const ws = target.ws;
  const read = c.read === true;
  if (!read) ws.socket.pause();
  let sent = 0;
  // agentgate answers a repeated id from the same user with the first ack and starts nothing: ids must be new.
  const prefix = `${name}-stall-${Date.now()}`;
  const every = 1000 / (c.requestsPerSecond as number);
  const t0 = performance.now();
  // A paused socket cannot read the close frame; it still learns that the server dropped it (reset, or a failed write).
  let endedAtMs: number | null = null;
  ws.socket.once('close', () => (endedAtMs = performance.now() - t0));
  for (let due = t0; due - t0 < (c.durationMs as number) && !ws.closed && !ws.socket.destroyed; due += every) {
    ws.send(requestFrame(`${prefix}-${sent++}`));
    await new Promise((r) => setTimeout(r, Math.max(0, due + every - performance.now())));
  }
  if (read) return { sent, closeCode: ws.closeCode ?? null, closeReason: ws.closeReason, endedAtMs };
  // Read again: whatever was queued drains, then the close frame (if the server cut us off) arrives.
  ws.socket.resume();
  const until = performance.now() + 15_000;
  while (ws.closeCode === undefined && !ws.closed && performance.now() < until)
    await new Promise((r) => setTimeout(r, 50));
  return { sent, closeCode: ws.closeCode ?? null, closeReason: ws.closeReason, endedAtMs };
}

async function closeAll(c: Command): Promise<unknown> {
  const names = c.group === undefined ? [...groups.keys()] : [c.group as string];
  const conns = names.flatMap((n) => groups.get(n) ?? []);
  for (const n of names) groups.delete(n);
  for (const conn of conns) conn.ws.close();
  const until = performance.now() + 10_000;
  while (conns.some((conn) => !conn.ws.closed) && performance.now() < until)
    await new Promise((r) => setTimeout(r, 20));
  for (const conn of conns) conn.ws.destroy();
  return { closed: conns.length };
}

serveCommands(
  {
    open,
    closedStart: (c) => void loops.set(keyOf(c), new ClosedLoop(groupOf(c))),
    closedStop: async (c) => ({ inFlight: (await loops.get(keyOf(c))?.stop(c.drainMs as number)) ?? 0 }),
    mark: (c) => ({ ...counters, ...processStats(false), open: groupOf(c).filter((conn) => !conn.ws.closed).length }),
    openLoop: (c) =>
      openLoop(groupOf(c), counters, c.requestsPerSecond as number, c.warmupMs as number, c.windowMs as number),
    prepareHandshakes,
    handshakes,
    stall,
    closeAll,
  },
  () => {
    for (const conns of groups.values()) for (const c of conns) c.ws.destroy();
  },
);
announceReady({ name });
