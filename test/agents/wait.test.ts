import { describe, expect, it, vi } from 'vitest';
import { sleep, ToolRegistry, waitTool } from '../../src/agents/index.js';
import { testContext } from './fake-io.js';

const registry = new ToolRegistry([waitTool]);

describe('wait tool', () => {
  it('waits and reports how long', async () => {
    const outcome = await registry.invoke(
      'wait',
      { seconds: 0.02 },
      { run: testContext, signal: new AbortController().signal },
    );
    expect(outcome).toEqual({ ok: true, result: { waitedSeconds: 0.02 } });
  });

  it('refuses more than 120 seconds', async () => {
    const outcome = await registry.invoke(
      'wait',
      { seconds: 121 },
      { run: testContext, signal: new AbortController().signal },
    );
    expect(outcome).toMatchObject({ ok: false, error: { code: 'invalid_arguments' } });
  });

  it('rejects promptly with the abort reason and clears its timer', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const started = Date.now();
    const pending = registry.invoke('wait', { seconds: 60 }, { run: testContext, signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('clears its timer on abort', async () => {
    vi.useFakeTimers();
    try {
      const controller = new AbortController();
      const pending = sleep(60_000, controller.signal);
      expect(vi.getTimerCount()).toBe(1);
      controller.abort(new Error('stop'));
      await expect(pending).rejects.toThrow('stop');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects at once when already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    await expect(sleep(60_000, controller.signal)).rejects.toThrow('too late');
  });
});
