import { describe, expect, it } from 'vitest';
import { noTracing, RunOrigins } from '../../src/telemetry/index.js';

describe('RunOrigins', () => {
  it('hands an origin over once, by run id; a refused submission leaves nothing behind', () => {
    const origins = new RunOrigins();
    const span = noTracing.start('x', 'server', {});
    origins.set('run-1', { requestId: 'req-1', span });
    expect(origins.take('run-2')).toBeUndefined();
    expect(origins.take('run-1')).toEqual({ requestId: 'req-1', span });
    expect(origins.take('run-1')).toBeUndefined();
    origins.set('run-3', { requestId: 'req-3' });
    origins.delete('run-3');
    expect(origins.take('run-3')).toBeUndefined();
  });

  it('keeps at most 10,000 origins no run took, dropping the oldest first', () => {
    const origins = new RunOrigins();
    for (let i = 0; i <= 10_000; i++) origins.set(`run-${i}`, { requestId: `req-${i}` });
    expect(origins.take('run-0')).toBeUndefined();
    expect(origins.take('run-1')).toEqual({ requestId: 'req-1' });
    expect(origins.take('run-10000')).toEqual({ requestId: 'req-10000' });
  });
});
