import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { HandshakeWaves } from '../../src/gateway/handshake-waves.js';

describe('HandshakeWaves', () => {
  it('lets a handshake go at once when none is in progress', async () => {
    const waves = new HandshakeWaves(1_000);
    const started = Date.now();
    const through = await waves.enter();
    expect(Date.now() - started).toBeLessThan(500);
    expect(waves.size).toEqual({ inProgress: 1, waiting: 0 });
    through();
    through(); // idempotent
    expect(waves.size).toEqual({ inProgress: 0, waiting: 0 });
    (await waves.enter())();
  });

  it('holds the ones that arrive meanwhile for the window, then lets them all go in the same turn', async () => {
    const waves = new HandshakeWaves(50);
    const first = await waves.enter();
    const order: string[] = [];
    const wave = [1, 2, 3].map((n) =>
      waves.enter().then((through) => {
        order.push(`go ${n}`);
        setImmediate(() => order.push(`next turn ${n}`));
        return through;
      }),
    );
    await nextTurn();
    expect(order).toEqual([]);
    expect(waves.size).toEqual({ inProgress: 1, waiting: 3 });
    // The first being through does not release the wave early: it gathers for its whole window.
    first();
    await delay(20);
    expect(order).toEqual([]);
    const throughs = await Promise.all(wave);
    await nextTurn();
    // Released in one timer callback: every member goes before anything any of them scheduled for the next turn.
    expect(order).toEqual(['go 1', 'go 2', 'go 3', 'next turn 1', 'next turn 2', 'next turn 3']);
    expect(waves.size).toEqual({ inProgress: 3, waiting: 0 });
    for (const through of throughs) through();
    expect(waves.size).toEqual({ inProgress: 0, waiting: 0 });
  });

  it('starts a new wave for those that arrive while one is out', async () => {
    const waves = new HandshakeWaves(10);
    const first = await waves.enter();
    const second = await waves.enter(); // waited for one window
    expect(waves.size).toEqual({ inProgress: 2, waiting: 0 });
    const third = waves.enter();
    await nextTurn();
    expect(waves.size).toEqual({ inProgress: 2, waiting: 1 });
    first();
    second();
    (await third)();
    expect(waves.size).toEqual({ inProgress: 0, waiting: 0 });
  });
});
