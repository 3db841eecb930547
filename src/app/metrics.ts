import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** Process metrics plus the gateway's own gauges; no label ever carries a user id or email. */
export function createMetrics(sources: { connections: () => number; activeRuns: () => number }): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'agentgate_' });
  new Gauge({ name: 'agentgate_ws_connections', help: 'Open WebSocket connections on this instance.', registers: [registry], collect() { this.set(sources.connections()); } });
  new Gauge({ name: 'agentgate_runs_active', help: 'Runs in progress on this instance.', registers: [registry], collect() { this.set(sources.activeRuns()); } });
  return registry;
}
