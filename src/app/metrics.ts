import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Telemetry } from '../telemetry/index.js';
import { AGENTGATE_VERSION } from './version.js';

/**
 * Process and Node.js metrics under their standard names (process_*, nodejs_*: stock dashboards work), the HTTP
 * request histogram, and the gateway's own (agentgate_*). No label ever carries a user id, an email or a raw path.
 */
export function createMetrics(sources: { connections: () => number; activeRuns: () => number }): {
  registry: Registry;
  telemetry: Telemetry;
} {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: 'agentgate_build_info',
    help: 'Always 1: the version of agentgate and of Node.js this instance runs, as labels.',
    labelNames: ['version', 'node_version'],
    registers,
  }).set({ version: AGENTGATE_VERSION, node_version: process.versions.node }, 1);
  const http = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const tokens = new Counter({
    name: 'agentgate_model_tokens_total',
    help: 'Tokens language models reported, by direction (input, output).',
    labelNames: ['direction'],
    registers,
  });
  const runsTotal = new Counter({
    name: 'agentgate_runs_total',
    help: 'Runs ended, by final status.',
    labelNames: ['status'],
    registers,
  });
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
      runEnded: (status, durationMs) => {
        runs.observe({ status }, durationMs / 1000);
        runsTotal.inc({ status });
      },
      rateLimited: (kind) => limited.inc({ kind }),
      connectionClosed: (kind) => closed.inc({ reason: kind }),
      authEvent: (kind, count = 1) => auth.inc({ kind }, count),
      httpRequest: (method, route, statusCode, seconds) =>
        http.observe({ method, route, status_code: String(statusCode) }, seconds),
      modelTokens: (input, output) => {
        tokens.inc({ direction: 'input' }, input);
        tokens.inc({ direction: 'output' }, output);
      },
    },
  };
}
