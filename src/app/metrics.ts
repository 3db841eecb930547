import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Telemetry } from '../telemetry/index.js';

/** Process metrics plus the gateway's own; no label ever carries a user id or email. */
export function createMetrics(sources: { connections: () => number; activeRuns: () => number }): {
  registry: Registry;
  telemetry: Telemetry;
} {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'agentgate_' });
  const registers = [registry];
  new Gauge({
    name: 'agentgate_ws_connections',
    help: 'Open WebSocket connections on this instance.',
    registers,
    collect() {
      this.set(sources.connections());
    },
  });
  new Gauge({
    name: 'agentgate_runs_active',
    help: 'Runs in progress on this instance.',
    registers,
    collect() {
      this.set(sources.activeRuns());
    },
  });
  const handshakes = new Counter({
    name: 'agentgate_ws_handshakes_total',
    help: 'WebSocket upgrade attempts by HTTP status (101 = accepted).',
    labelNames: ['status'],
    registers,
  });
  const sent = new Counter({
    name: 'agentgate_ws_messages_sent_total',
    help: 'Messages written to WebSockets.',
    registers,
  });
  const runs = new Histogram({
    name: 'agentgate_run_duration_seconds',
    help: 'Run durations from agent_started to the terminal event, by final status.',
    labelNames: ['status'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers,
  });
  const limited = new Counter({
    name: 'agentgate_rate_limited_total',
    help: 'Requests refused by a limit, by kind.',
    labelNames: ['kind'],
    registers,
  });
  const closed = new Counter({
    name: 'agentgate_ws_server_closes_total',
    help: 'Connections the server closed, by reason.',
    labelNames: ['reason'],
    registers,
  });
  const auth = new Counter({
    name: 'agentgate_auth_events_total',
    help: 'Authentication events, by kind: access-token validations, refresh-token reuse (and how much of it was two refreshes racing), expired refresh tokens deleted.',
    labelNames: ['kind'],
    registers,
  });
  return {
    registry,
    telemetry: {
      handshake: (status) => handshakes.inc({ status: String(status) }),
      messagesSent: (count) => sent.inc(count),
      runEnded: (status, durationMs) => runs.observe({ status }, durationMs / 1000),
      rateLimited: (kind) => limited.inc({ kind }),
      connectionClosed: (kind) => closed.inc({ reason: kind }),
      authEvent: (kind, count = 1) => auth.inc({ kind }, count),
    },
  };
}
