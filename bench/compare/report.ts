/**
 * Turns the samples of a run into rows: absolute medians per server, agentgate ÷ bare ws per pass (median and
 * spread), the issue's target and whether it is met. Printed as a text table and as Markdown (docs/BENCHMARKS.md).
 */
import { fixed, int, kb, mb, ratioSpread, summarize, type Summary } from '../lib/stats.js';
import { EVENTS_PER_REQUEST } from '../lib/workload.js';
import { SERVER_LABELS, type ServerKind } from './fleet.js';
import { HANDSHAKE_LABELS, type HandshakeMode, type HandshakeSample } from './phases-handshake.js';
import type { LatencySample, LoadSample } from './phases-load.js';
import type { CycleSample, IdleSample, StallSample } from './phases-memory.js';

export interface Samples {
  readonly throughput: LoadSample[];
  readonly latency: LatencySample[];
  readonly handshakes: HandshakeSample[];
  readonly idle: IdleSample[];
  readonly stall: StallSample[];
  readonly cycles: CycleSample[];
}

export interface Row {
  readonly figure: string;
  /** Median (and spread) per server column. */
  readonly values: Partial<Record<ServerKind, Summary>>;
  readonly format: (x: number) => string;
  /** agentgate ÷ bare ws, per pass. */
  readonly ratio: Summary | undefined;
  readonly target: string;
  /** undefined: informational, or not measured. */
  readonly met: boolean | undefined;
  readonly note: string;
}

const AGENTGATE: readonly ServerKind[] = ['agentgate', 'agentgate-pg'];
/** What a stalled reader may cost beyond a reading one: the hard backlog cap agentgate enforces per socket. */
const STALL_BOUND_BYTES = 64 * 1024 * 1024;

/** Per-pass values of one figure, by server. */
function byServer<S extends { server: ServerKind; pass: number }>(
  samples: readonly S[],
  value: (s: S) => number,
): Partial<Record<ServerKind, Summary>> {
  const out: Partial<Record<ServerKind, Summary>> = {};
  for (const kind of Object.keys(SERVER_LABELS) as ServerKind[]) {
    const mine = samples.filter((s) => s.server === kind).sort((a, b) => a.pass - b.pass);
    if (mine.length > 0) out[kind] = summarize(mine.map(value));
  }
  return out;
}

/** agentgate's value ÷ the baseline's, pass by pass (same pass = measured side by side). */
function ratioOf<S extends { server: ServerKind; pass: number }>(
  samples: readonly S[],
  value: (s: S) => number,
  baseline: (s: S) => boolean,
  subject: ServerKind = 'agentgate',
): Summary | undefined {
  const ratios = samples
    .filter((s) => s.server === subject)
    .map((s) => {
      const b = samples.find((x) => baseline(x) && x.pass === s.pass);
      return b === undefined ? NaN : value(s) / value(b);
    });
  return ratios.length === 0 ? undefined : summarize(ratios);
}

/** The PostgreSQL + Redis variant's ratio, for the notes ('' when it did not run). */
function pgSummary<S extends { server: ServerKind; pass: number }>(
  samples: readonly S[],
  value: (s: S) => number,
  baseline: (s: S) => boolean,
): Summary | undefined {
  return samples.some((s) => s.server === 'agentgate-pg')
    ? ratioOf(samples, value, baseline, 'agentgate-pg')
    : undefined;
}

function pgRatio<S extends { server: ServerKind; pass: number }>(
  samples: readonly S[],
  value: (s: S) => number,
  baseline: (s: S) => boolean,
): string {
  const r = pgSummary(samples, value, baseline);
  return r === undefined ? '' : `PostgreSQL + Redis ÷ bare ws: ${ratioSpread(r)}`;
}

/** Met when SQLite's ratio is, and PostgreSQL + Redis's too where it was measured (issue 24: each has a target). */
const bothMet = (sqlite: boolean | undefined, pg: Summary | undefined, pgTarget: number): boolean | undefined =>
  pg === undefined ? sqlite : sqlite === undefined ? undefined : sqlite && atLeast(pg, pgTarget) === true;

/** Which servers' passes were client-bound, saturated the machine, or got a broken workload back. */
function flags(samples: readonly (LoadSample | HandshakeSample)[]): string {
  const servers = (pick: (s: LoadSample | HandshakeSample) => boolean): string =>
    [...new Set(samples.filter(pick).map((s) => s.server))].join(', ');
  const out: string[] = [];
  const client = servers((s) => s.clientBound);
  const machine = servers((s) => 'machineSaturated' in s && s.machineSaturated);
  const broken = servers((s) => 'badBursts' in s && s.badBursts + s.errors > 0);
  const refused = samples
    .filter((s): s is LoadSample => 'refused' in s && s.refused > 0)
    .map((s) => `${s.server} pass ${s.pass + 1}: ${s.refused}`);
  if (client !== '') out.push(`client-bound: ${client}`);
  if (machine !== '') out.push(`2 cores saturated: ${machine}`);
  if (broken !== '') out.push(`bad bursts or errors: ${broken}`);
  if (refused.length > 0) out.push(`refused overloaded (retried after the hint): ${refused.join(', ')}`);
  return out.join('; ');
}

// A median of Infinity (never answered) is a figure, and a missed one; NaN (not measured) is none.
const atLeast = (r: Summary | undefined, x: number): boolean | undefined =>
  r === undefined || Number.isNaN(r.median) ? undefined : r.median >= x;
const atMost = (r: Summary | undefined, x: number): boolean | undefined =>
  r === undefined || Number.isNaN(r.median) ? undefined : r.median <= x;

export function buildRows(s: Samples): Row[] {
  const rows: Row[] = [];
  const isBare = (x: { server: ServerKind }): boolean => x.server === 'bare';
  for (const n of [...new Set(s.throughput.map((x) => x.connections))]) {
    const at = s.throughput.filter((x) => x.connections === n);
    const r = ratioOf(at, (x) => x.eventsPerSecond, isBare);
    rows.push({
      figure: `events/s, ${int(n)} connections`,
      values: byServer(at, (x) => x.eventsPerSecond),
      format: int,
      ratio: r,
      target: '>= 1.0x; PostgreSQL + Redis >= 0.5x',
      met: bothMet(
        atLeast(r, 1.0),
        pgSummary(at, (x) => x.eventsPerSecond, isBare),
        0.5,
      ),
      note: [pgRatio(at, (x) => x.eventsPerSecond, isBare), flags(at)].filter((x) => x !== '').join('; '),
    });
    rows.push({
      figure: `↳ server CPU µs/event, ${int(n)} conn.`,
      values: byServer(at, (x) => x.serverCpuUsPerEvent),
      format: (x) => fixed(x, 2),
      ratio: ratioOf(at, (x) => x.serverCpuUsPerEvent, isBare),
      target: '',
      met: undefined,
      note: '',
    });
  }
  if (s.latency.length > 0) {
    const l = s.latency;
    const offered = `${int(l[0]!.offeredEventsPerSecond)} ev/s`;
    const ms = (x: number): string => `${fixed(x, 2)} ms`;
    const p99s = ratioOf(l, (x) => x.p99StartedMs, isBare);
    const p99t = ratioOf(l, (x) => x.p99TerminalMs, isBare);
    const cpu = ratioOf(l, (x) => x.serverCores, isBare);
    // Refused requests are answered but not served: their latency is not in the percentiles, so say how many.
    const late = l
      .filter((x) => x.missing > 0 || x.late > 0 || x.refusedInWindow > 0)
      .map(
        (x) =>
          `${x.server} pass ${x.pass + 1}: ${x.late} sent late, ${x.missing} never answered (∞)${x.refusedInWindow > 0 ? `, ${x.refusedInWindow} refused overloaded (not in the percentiles)` : ''}`,
      );
    rows.push({
      figure: `p50 → agent_started @ ${offered}`,
      values: byServer(l, (x) => x.p50StartedMs),
      format: ms,
      ratio: ratioOf(l, (x) => x.p50StartedMs, isBare),
      target: '',
      met: undefined,
      note: '',
    });
    rows.push({
      figure: `p99 → agent_started @ ${offered}`,
      values: byServer(l, (x) => x.p99StartedMs),
      format: ms,
      ratio: p99s,
      target: '<= 1.5x',
      met: atMost(p99s, 1.5),
      note: '',
    });
    rows.push({
      figure: `p50 → terminal @ ${offered}`,
      values: byServer(l, (x) => x.p50TerminalMs),
      format: ms,
      ratio: ratioOf(l, (x) => x.p50TerminalMs, isBare),
      target: '',
      met: undefined,
      note: '',
    });
    rows.push({
      figure: `p99 → terminal @ ${offered}`,
      values: byServer(l, (x) => x.p99TerminalMs),
      format: ms,
      ratio: p99t,
      target: '<= 1.5x',
      met: atMost(p99t, 1.5),
      note: late.join('; '),
    });
    const behind = l.filter((x) => !x.keptUp);
    const keptUp =
      behind.length === 0
        ? ''
        : `did not keep up with the offered rate: ${behind.map((x) => `${x.server} pass ${x.pass + 1} (${int(x.eventsPerSecond)} ev/s)`).join(', ')}`;
    const cpuMet = atMost(cpu, 0.6);
    rows.push({
      figure: `server CPU (cores) @ ${offered}`,
      values: byServer(l, (x) => x.serverCores),
      format: (x) => fixed(x, 2),
      ratio: cpu,
      target: '<= 0.6x',
      met: cpuMet === undefined ? undefined : cpuMet && !behind.some((x) => AGENTGATE.includes(x.server)),
      note: [keptUp, flags(l)].filter((x) => x !== '').join('; '),
    });
  }
  if (s.handshakes.length > 0) {
    const h = s.handshakes;
    const isNone = (x: HandshakeSample): boolean => x.server === 'bare' && x.mode === 'none';
    const accepted = h.filter((x) => x.server === 'agentgate' && x.mode === 'bearer');
    for (const mode of ['none', 'ticket', 'bearer', 'subprotocol', 'rejected'] as HandshakeMode[]) {
      const of = h.filter((x) => x.mode === mode);
      if (of.length === 0) continue;
      const r = mode === 'none' ? undefined : ratioOf([...of, ...h.filter(isNone)], (x) => x.perSecond, isNone);
      const accepting = mode === 'ticket' || mode === 'bearer' || mode === 'subprotocol';
      const pg = mode === 'none' ? '' : pgRatio([...of, ...h.filter(isNone)], (x) => x.perSecond, isNone);
      rows.push({
        figure: `handshakes/s, ${HANDSHAKE_LABELS[mode]}`,
        values: byServer(of, (x) => x.perSecond),
        format: int,
        ratio: r,
        target: accepting ? '>= 0.7x, both' : '',
        met: accepting
          ? bothMet(
              atLeast(r, 0.7),
              pgSummary([...of, ...h.filter(isNone)], (x) => x.perSecond, isNone),
              0.7,
            )
          : undefined,
        note: [pg, flags(of)].filter((x) => x !== '').join('; '),
      });
      if (mode === 'rejected') {
        const rej = summarize(of.filter((x) => x.server === 'agentgate').map((x) => x.serverCpuUsPerHandshake));
        const acc = summarize(accepted.map((x) => x.serverCpuUsPerHandshake));
        rows.push({
          figure: '↳ server CPU µs per rejected handshake',
          values: byServer(of, (x) => x.serverCpuUsPerHandshake),
          format: (x) => fixed(x, 0),
          ratio: undefined,
          target: `<= accepted Bearer (${fixed(acc.median, 0)} µs)`,
          met: Number.isFinite(rej.median) && Number.isFinite(acc.median) ? rej.median <= acc.median : undefined,
          note: '',
        });
      }
    }
    const minted = h.filter((x) => x.ticketsPerSecond !== undefined);
    if (minted.length > 0)
      rows.push({
        figure: 'POST /ws/ticket per second (not in the above)',
        values: byServer(minted, (x) => x.ticketsPerSecond!),
        format: int,
        ratio: undefined,
        target: '',
        met: undefined,
        note: '8 requests in flight per generator, keep-alive',
      });
  }
  for (const n of [...new Set(s.idle.map((x) => x.connections))]) {
    const at = s.idle.filter((x) => x.connections === n);
    const r = ratioOf(at, (x) => x.rssPerConnection, isBare);
    const abs = byServer(at, (x) => x.rssPerConnection).agentgate;
    // RSS that fell while connections were added says nothing about what they cost: not met, and noted.
    const met =
      abs === undefined || r === undefined ? undefined : abs.median > 0 && abs.median <= 12 * 1024 && r.median <= 1.5;
    const short = at
      .filter((x) => x.serverConnections < n)
      .map((x) => `${x.server} pass ${x.pass + 1}: ${x.serverConnections} open (${JSON.stringify(x.failures)})`);
    const each = (pick: (x: IdleSample) => number): string =>
      Object.entries(byServer(at, pick))
        .map(([k, v]) => `${k} ${kb(v.median)}`)
        .join(', ');
    const fell = at
      .filter((x) => x.rssPerConnection <= 0)
      .map((x) => `${x.server} pass ${x.pass + 1}: RSS fell while connecting (not a measurement)`);
    const note = [
      `per connection added after the first ${int(at[0]!.warm)}: RSS ${each((x) => x.rssPerAddedConnection)}; V8 heap ${each((x) => x.heapPerConnection)}`,
      ...short,
      ...fell,
    ];
    rows.push({
      figure: `RSS per idle connection, ${int(n)}`,
      values: byServer(at, (x) => x.rssPerConnection),
      format: kb,
      ratio: r,
      target: '<= 12 KB and <= 1.5x',
      met,
      note: note.join('; '),
    });
  }
  for (const st of s.stall) {
    const ag = AGENTGATE.includes(st.server);
    const extra = st.stalled.peakGrowth - st.control.peakGrowth;
    const cut = st.stalled.cutOffAtMs;
    const bounded = ag ? cut !== null && extra <= STALL_BOUND_BYTES : undefined;
    // A cut-off socket's close frame waits behind the unread data; the server may terminate it before it is read.
    const how =
      cut === null
        ? 'never cut off'
        : `cut off after ${fixed(cut / 1000, 1)} s (${st.stalled.closeCode === null ? 'terminated; close frame unread' : `close ${st.stalled.closeCode} ${st.stalled.closeReason}`})`;
    rows.push({
      figure: `stalled reader: peak RSS growth (${st.server})`,
      values: { [st.server]: summarize([st.stalled.peakGrowth]) },
      format: mb,
      ratio: undefined,
      target: ag ? `cut off; <= a reading client's + ${mb(STALL_BOUND_BYTES)}` : '',
      met: bounded,
      note: `${int(st.requestsPerSecond * EVENTS_PER_REQUEST)} events/s for ${st.durationMs / 1000} s; stalled: peak +${mb(st.stalled.peakGrowth)}, ${how}, after GC +${mb(st.stalled.endGrowth)}; reading client: peak +${mb(st.control.peakGrowth)}, after GC +${mb(st.control.endGrowth)} RSS, +${mb(st.control.heapGrowth)} heap`,
    });
  }
  for (const c of s.cycles) {
    const heapGrowth = c.heapAfter[c.heapAfter.length - 1]! - c.heapAfter[0]!;
    const rssGrowth = c.rssAfter[c.rssAfter.length - 1]! - c.rssAfter[0]!;
    rows.push({
      figure: `heap growth, cycles 1→${c.heapAfter.length} of ${int(c.connections)} (${c.server})`,
      values: { [c.server]: summarize([heapGrowth]) },
      format: mb,
      ratio: undefined,
      target: AGENTGATE.includes(c.server) ? '< 1 MB (no leak)' : '',
      met: AGENTGATE.includes(c.server) ? heapGrowth < 1024 * 1024 : undefined,
      note: `RSS after each cycle: ${c.rssAfter.map(mb).join(', ')} (before ${mb(c.rssBefore)}, connected ${mb(c.rssConnected)}, growth ${mb(rssGrowth)})`,
    });
  }
  return rows;
}

const cell = (row: Row, kind: ServerKind): string => {
  const v = row.values[kind];
  return v === undefined ? '' : row.format(v.median);
};
const metText = (met: boolean | undefined): string => (met === undefined ? '' : met ? 'met' : 'MISSED');

function columns(rows: readonly Row[]): ServerKind[] {
  return (Object.keys(SERVER_LABELS) as ServerKind[]).filter((k) => rows.some((r) => r.values[k] !== undefined));
}

function tableCells(rows: readonly Row[]): string[][] {
  const kinds = columns(rows);
  const head = [
    'figure',
    ...kinds.map((k) => SERVER_LABELS[k]),
    'agentgate ÷ bare ws (min–max)',
    'target',
    'met?',
    'notes',
  ];
  return [
    head,
    ...rows.map((r) => [
      r.figure,
      ...kinds.map((k) => cell(r, k)),
      r.ratio === undefined ? '' : ratioSpread(r.ratio),
      r.target,
      metText(r.met),
      r.note,
    ]),
  ];
}

export function textTable(rows: readonly Row[]): string {
  const cells = tableCells(rows);
  const widths = cells[0]!.map((_, i) => Math.min(60, Math.max(...cells.map((r) => r[i]!.length))));
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function markdownTable(rows: readonly Row[]): string {
  const cells = tableCells(rows);
  // `<jwt>` would be read as an HTML tag.
  const line = (r: readonly string[]): string =>
    `| ${r.map((c) => c.replace(/\|/g, '\\|').replace(/</g, '&lt;')).join(' | ')} |`;
  return [line(cells[0]!), line(cells[0]!.map(() => '---')), ...cells.slice(1).map(line)].join('\n');
}
