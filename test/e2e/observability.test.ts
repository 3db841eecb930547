import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { registerUser, request } from '../../src/testing/index.js';
import { send, terminalOf, useTestApp } from './helpers/runs.js';

/** Metrics and request ids by convention (issue 25.7): what stock dashboards and log pipelines expect to find. */
const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

describe('observability by convention', () => {
  const t = useTestApp({}, { logger });

  it('/metrics: process and Node.js metrics under their standard names, build info, the HTTP histogram by route template, runs by status', async () => {
    const user = await registerUser(t.app.url, 'observed');
    await request(t.app.url, 'GET', '/threads/not-a-thread-of-yours', { token: user.accessToken });
    const ws = await t.open(user);
    const ack = await send(ws, { id: 'o1', text: 'hello' });
    await terminalOf(ws, ack.runId);
    const metrics = await request<string>(t.app.url, 'GET', '/metrics');
    const text = String(metrics.body);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      expect(text).toMatch(new RegExp(`^${name} `, 'm'));
    expect(text).toMatch(/^agentgate_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="\d+\.\d+\.\d+"\} 1$/m);
    expect(text).toMatch(
      /^http_request_duration_seconds_count\{method="GET",route="\/threads\/:id",status_code="404"\} 1$/m,
    );
    expect(text).toMatch(
      /^http_request_duration_seconds_count\{method="POST",route="\/auth\/register",status_code="201"\} \d+$/m,
    );
    expect(text).not.toContain('not-a-thread-of-yours');
    expect(text).toMatch(/^agentgate_runs_total\{status="completed"\} [1-9]\d*$/m);
  });

  it('X-Request-Id: a plain one is kept and returned, anything else replaced by a fresh id; the request logs carry it', async () => {
    const kept = await request(t.app.url, 'GET', '/health/live', { headers: { 'x-request-id': 'trace-abc_123:9' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-abc_123:9');
    const forged = await request(t.app.url, 'GET', '/health/live', {
      headers: { 'x-request-id': 'evil "injected": true' },
    });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await request(t.app.url, 'GET', '/health/live');
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(none.headers.get('x-request-id')).not.toBe(forged.headers.get('x-request-id'));
    const refused = await request(t.app.url, 'GET', '/threads', { headers: { 'x-request-id': 'req-refused-1' } });
    expect(refused.status).toBe(401);
    expect(logLines.filter((l) => l.includes('"requestId":"req-refused-1"')).length).toBeGreaterThan(0);
  });
});
