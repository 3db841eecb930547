/**
 * What storing a run's events costs SQLite: a row per event (the layout before migration 009) against a row per
 * burst (since), measured side by side in one run.
 *   npm run bench -- event-rows [--runs 20000]
 * Each layout gets a fresh WAL database (synchronous NORMAL, foreign keys on, as agentgate opens it) with the same
 * primary key and foreign key, and stores the same runs of 50 events of ~200 bytes, 20 runs per commit (a busy
 * group commit). The two layouts alternate over three rounds; the median of each is printed, and their ratio.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DELTA_CHARS, deltaText, EVENTS_PER_REQUEST } from './lib/workload.js';

const argv = process.argv.slice(2);
const runsIndex = argv.indexOf('--runs');
const RUNS = runsIndex >= 0 ? Number(argv[runsIndex + 1]) : 20_000;
const RUNS_PER_COMMIT = 20;
type Layout = 'row per event' | 'row per burst';

function measure(layout: Layout): number {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-event-rows-'));
  const db = new Database(join(dir, 'events.sqlite'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.exec('create table runs (id text primary key)');
    db.exec(
      `create table run_events (run_id text not null references runs (id) on delete cascade, seq integer not null,
       ${layout === 'row per burst' ? 'last_seq integer not null,' : ''} type text not null, body text not null,
       constraint run_events_pk primary key (run_id, seq))`,
    );
    const ids = Array.from({ length: RUNS }, () => randomUUID());
    const insertRun = db.prepare('insert into runs (id) values (?)');
    for (const id of ids) insertRun.run(id);
    const threadId = randomUUID();
    const bodies = ids.map((runId) =>
      Array.from({ length: EVENTS_PER_REQUEST }, (_, i) =>
        JSON.stringify({ type: 'agent_message_delta', text: deltaText(i, DELTA_CHARS), runId, threadId, seq: i + 1 }),
      ),
    );
    const insert =
      layout === 'row per event'
        ? db.prepare(
            `insert into run_events (run_id, seq, type, body) values ${Array(EVENTS_PER_REQUEST).fill('(?, ?, ?, ?)').join(', ')}`,
          )
        : db.prepare('insert into run_events (run_id, seq, last_seq, type, body) values (?, ?, ?, ?, ?)');
    const begin = db.prepare('begin immediate');
    const commit = db.prepare('commit');
    const started = process.hrtime.bigint();
    for (let r = 0; r < RUNS; r++) {
      if (r % RUNS_PER_COMMIT === 0) begin.run();
      const runId = ids[r]!;
      const events = bodies[r]!;
      if (layout === 'row per event')
        insert.run(events.flatMap((body, i) => [runId, i + 1, 'agent_message_delta', body]));
      else insert.run(runId, 1, EVENTS_PER_REQUEST, 'agent_message_delta', events.join('\n'));
      if (r % RUNS_PER_COMMIT === RUNS_PER_COMMIT - 1 || r === RUNS - 1) commit.run();
    }
    return Number(process.hrtime.bigint() - started) / 1_000 / (RUNS * EVENTS_PER_REQUEST);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const samples: Record<Layout, number[]> = { 'row per event': [], 'row per burst': [] };
for (let round = 1; round <= 3; round++) {
  for (const layout of ['row per event', 'row per burst'] as const) {
    const us = measure(layout);
    samples[layout].push(us);
    console.log(`round ${round} · ${layout}: ${us.toFixed(2)} µs per event stored`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1]!;
const perEvent = median(samples['row per event']);
const perBurst = median(samples['row per burst']);
console.log(
  `\n${RUNS} runs of ${EVENTS_PER_REQUEST} events, ${RUNS_PER_COMMIT} runs per commit, median of 3: row per event ` +
    `${perEvent.toFixed(2)} µs, row per burst ${perBurst.toFixed(2)} µs per event stored (${(perEvent / perBurst).toFixed(1)}x less)`,
);
