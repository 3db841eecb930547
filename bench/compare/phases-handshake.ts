/**
 * Handshakes per second: many concurrent upgrades from generator processes, each on a new TCP connection (no
 * keep-alive), each socket dropped as soon as it is usable (bare ws: the 101; agentgate: its connection_established,
 * which needs the subscription set up). agentgate's credentials: a ticket (minted over POST /ws/ticket before the
 * timed part; issuance is reported on its own), the Authorization header, the subprotocol, and a rejected one
 * (a well-formed access token with a forged signature: 401 after a full verification).
 */
import { randomBytes } from 'node:crypto';
import type { Child, CpuSample } from '../lib/children.js';
import { split, type Auth, type Generators, type Server, type ServerKind } from './fleet.js';
import { CLIENT_BOUND_SHARE } from './phases-load.js';
import type { Profile } from './profiles.js';

export type HandshakeMode = 'none' | 'ticket' | 'bearer' | 'subprotocol' | 'rejected';

export const HANDSHAKE_LABELS: Record<HandshakeMode, string> = {
  none: 'unauthenticated',
  ticket: '?ticket=',
  bearer: 'Authorization: Bearer',
  subprotocol: 'bearer.<jwt> subprotocol',
  rejected: 'forged Bearer (401)',
};

export interface HandshakeSample {
  readonly server: ServerKind;
  readonly mode: HandshakeMode;
  readonly pass: number;
  readonly attempts: number;
  /** Attempts that ended as expected: 101 (401 for `rejected`). */
  readonly expected: number;
  readonly statuses: Record<string, number>;
  readonly perSecond: number;
  readonly serverCpuUsPerHandshake: number;
  readonly serverCores: number;
  readonly generatorCores: readonly number[];
  readonly clientBound: boolean;
  /** POST /ws/ticket per second while the tickets were minted (ticket mode only, not part of perSecond). */
  readonly ticketsPerSecond: number | undefined;
  /** When the timed upgrades ran (CLOCK_MONOTONIC µs, as V8 stamps profile samples): for the profiler. */
  readonly windowUs: { readonly fromUs: number; readonly toUs: number };
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

interface HandshakeReply {
  readonly statuses: Record<string, number>;
  readonly ms: number;
  readonly cpuUs: number;
}

/** A token with the same header and claims but a signature the server never made. */
const forge = (token: string): string =>
  `${token.split('.').slice(0, 2).join('.')}.${randomBytes(32).toString('base64url')}`;

interface Batch {
  readonly replies: readonly HandshakeReply[];
  readonly prepared: readonly { mintMs: number; minted: number }[];
  readonly s0: CpuSample;
  readonly s1: CpuSample;
  readonly windowUs: { readonly fromUs: number; readonly toUs: number };
}

/** Prepares `count` credentials (users from `first` on), then upgrades with each; server CPU around the upgrades. */
async function batch(
  server: Server,
  gens: readonly Child[],
  mode: HandshakeMode,
  count: number,
  first: number,
  concurrency: number,
): Promise<Batch> {
  const auth: Auth = mode === 'rejected' ? 'bearer' : mode;
  const pool = server.tokens;
  let next = first;
  const prepared = await Promise.all(
    gens.map((g, k) => {
      const n = split(count, gens.length)[k]!;
      const tokens = pool.length === 0 ? [] : Array.from({ length: n }, (_, j) => pool[(next + j) % pool.length]!);
      next += n;
      const args = {
        port: server.port,
        path: server.path,
        auth,
        tokens: mode === 'rejected' ? tokens.map(forge) : tokens,
        count: n,
        waitFirstFrame: server.isAgentgate && mode !== 'rejected',
      };
      return g.call<{ mintMs: number; minted: number }>('prepareHandshakes', args, 120_000);
    }),
  );
  const s0 = server.child.cpu();
  const fromUs = monotonicUs();
  const replies = await Promise.all(
    gens.map((g) =>
      g.call<HandshakeReply>('handshakes', { concurrency: Math.ceil(concurrency / gens.length) }, 120_000),
    ),
  );
  const s1 = server.child.cpu();
  const toUs = monotonicUs();
  await server.settleConnections(0);
  return { replies, prepared, s0, s1, windowUs: { fromUs, toUs } };
}

/** Unmeasured handshakes of each kind before its first pass (the first few hundred also compile the code path). */
const WARM_UP = 200;

export async function measureHandshakes(
  server: Server,
  generators: Generators,
  mode: HandshakeMode,
  pass: number,
  profile: Profile,
): Promise<HandshakeSample> {
  const { count, concurrency } = profile.handshakes;
  const gens = await generators.take(2);
  if (pass === 0) await batch(server, gens, mode, WARM_UP, 0, concurrency);
  const { replies, prepared, s0, s1, windowUs } = await batch(
    server,
    gens,
    mode,
    count,
    WARM_UP + pass * count,
    concurrency,
  );
  const statuses: Record<string, number> = {};
  for (const r of replies) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const expected = statuses[mode === 'rejected' ? '401' : '101'] ?? 0;
  const ms = Math.max(...replies.map((r) => r.ms));
  const generatorCores = replies.map((r) => r.cpuUs / 1000 / r.ms);
  const minted = prepared.reduce((s, p) => s + p.minted, 0);
  return {
    server: server.kind,
    mode,
    pass,
    attempts: count,
    expected,
    statuses,
    perSecond: (expected * 1000) / ms,
    serverCpuUsPerHandshake: (s1.cpuUs - s0.cpuUs) / count,
    serverCores: (s1.cpuUs - s0.cpuUs) / 1000 / (s1.wallMs - s0.wallMs),
    generatorCores,
    clientBound: generatorCores.some((c) => c >= CLIENT_BOUND_SHARE),
    ticketsPerSecond: minted > 0 ? (minted * 1000) / Math.max(...prepared.map((p) => p.mintMs)) : undefined,
    windowUs,
  };
}
