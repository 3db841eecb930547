import { describe, expect, it } from 'vitest';
import { MemoryMessageIdStore } from '../../src/storage/index.js';

describe('MemoryMessageIdStore expiry', () => {
  it('expires each entry by its own TTL, and a stale record of a key (claimed, then settled for longer) never removes its newer entry', async () => {
    let nowMs = 1_000_000;
    const store = new MemoryMessageIdStore(() => nowMs);
    const ack = { threadId: 't', runId: 'r' };

    expect(await store.claim('a', 30_000)).toEqual({ kind: 'claimed' });
    nowMs += 1_000;
    await store.settle('a', ack, 900_000);
    expect(await store.claim('b', 30_000)).toEqual({ kind: 'claimed' });
    expect(await store.claim('b', 30_000)).toEqual({ kind: 'pending' });

    // Past both 30 s claims: b lapsed and can be claimed again; a's 30 s claim record is stale, its settled ack stays.
    nowMs += 40_000;
    expect(await store.claim('b', 30_000)).toEqual({ kind: 'claimed' });
    expect(await store.claim('a', 30_000)).toEqual({ kind: 'accepted', ack });

    // Past a's 15 minutes.
    nowMs += 900_000;
    expect(await store.claim('a', 30_000)).toEqual({ kind: 'claimed' });
  });

  it('keeps up with a long window of ids: thousands claimed and settled, all expired later, none lingering', async () => {
    let nowMs = 0;
    const store = new MemoryMessageIdStore(() => nowMs);
    for (let i = 0; i < 5_000; i++) {
      nowMs += 10;
      await store.claim(`m${i}`, 30_000);
      await store.settle(`m${i}`, { threadId: 't', runId: `r${i}` }, 900_000);
    }
    expect(await store.claim('m0', 30_000)).toEqual({ kind: 'accepted', ack: { threadId: 't', runId: 'r0' } });
    nowMs += 900_001;
    for (let i = 0; i < 5_000; i += 997) expect(await store.claim(`m${i}`, 30_000)).toEqual({ kind: 'claimed' });
  });
});
