import { describe, expect, it } from 'vitest';
import { TokenBudget } from '../../../src/agents/index.js';
import { MemoryTokenUsageStore } from '../../../src/storage/index.js';
import { anthropic, ask, budgetOf, openai, settingsFor, useFakeServer } from './helpers.js';

/** The per-user token budget: checked before every model call, fed after every step, even a failed one. */
describe('TokenBudget', () => {
  const NOW = Date.UTC(2030, 5, 15, 17, 42);

  it("refuses once the window's total reaches the limit, saying when it resets, and counts users apart", async () => {
    const store = new MemoryTokenUsageStore();
    const budget = new TokenBudget(store, { perUser: 1_000, windowHours: 24 }, () => NOW);
    await budget.record('alice', { inputTokens: 600, outputTokens: 399 });
    await expect(budget.check('alice')).resolves.toBeUndefined();
    await budget.record('alice', { inputTokens: 0, outputTokens: 1 });
    const refusal = budget.check('alice');
    await expect(refusal).rejects.toMatchObject({
      code: 'token_budget_exceeded',
      retryAfterSeconds: (Date.UTC(2030, 5, 16) - NOW) / 1000,
    });
    await expect(refusal).rejects.toThrow('2030-06-16T00:00:00.000Z');
    await expect(budget.check('bob')).resolves.toBeUndefined();
  });

  it('forgets usage from before the current window (hour-aligned windows)', async () => {
    const store = new MemoryTokenUsageStore();
    await store.add('alice', { inputTokens: 5_000, outputTokens: 0 }, new Date(NOW - 2 * 3_600_000));
    const hourly = new TokenBudget(store, { perUser: 100, windowHours: 1 }, () => NOW);
    await expect(hourly.check('alice')).resolves.toBeUndefined();
    const daily = new TokenBudget(store, { perUser: 100, windowHours: 24 }, () => NOW);
    await expect(daily.check('alice')).rejects.toMatchObject({ code: 'token_budget_exceeded' });
  });

  it('0 means unlimited, and the store is not even asked', async () => {
    const failing = { add: async () => {}, totalSince: async () => Promise.reject(new Error('down')) };
    await expect(new TokenBudget(failing, { perUser: 0, windowHours: 24 }).check('alice')).resolves.toBeUndefined();
    await expect(new TokenBudget(failing, { perUser: 10, windowHours: 24 }).check('alice')).rejects.toMatchObject({
      code: 'service_unavailable',
    });
  });
});

describe.each([openai, anthropic])('token budget with the $protocol provider', (dialect) => {
  const server = useFakeServer(dialect.protocol);
  const provider = () => dialect.provider(settingsFor(server.fake.url, { maxRetries: 0 }));

  it('an exhausted budget ends the run with token_budget_exceeded before any request reaches the API', async () => {
    const { budget, store } = budgetOf(50);
    await store.add('spender', { inputTokens: 50, outputTokens: 0 }, new Date());
    const before = server.fake.requests.length;
    const outcome = await ask(provider(), 'hello', { budget, userId: 'spender' });
    expect(outcome.error).toMatchObject({ code: 'token_budget_exceeded' });
    expect(server.fake.requests.length).toBe(before);
  });

  it('counts every step, and stops before the step that would go over', async () => {
    const { budget, store } = budgetOf(100);
    server.fake.enqueue(
      dialect.tools([{ id: 'call_1', name: 'add', chunks: ['{"a":1,"b":2}'] }], { usage: { input: 90, output: 15 } }),
      dialect.text(['never asked']),
    );
    const before = server.fake.requests.length;
    const outcome = await ask(provider(), 'add', { budget, userId: 'big-spender' });
    expect(outcome.error).toMatchObject({ code: 'token_budget_exceeded' });
    expect(server.fake.requests.length - before).toBe(1);
    expect(await store.totalSince('big-spender', new Date(Date.now() - 3_600_000))).toBe(105);
    expect(server.fake.clearReplies()).toBe(1);
  });

  it('a run that dies part-way still counts what it used', async () => {
    const { budget, store } = budgetOf(10_000);
    server.fake.enqueue(
      dialect.tools([{ id: 'call_1', name: 'add', chunks: ['{"a":1,"b":2}'] }], { usage: { input: 20, output: 5 } }),
      dialect.error(500, 'api_error'),
    );
    const outcome = await ask(provider(), 'add', { budget, userId: 'unlucky' });
    expect(outcome.error).toMatchObject({ code: 'llm_unavailable' });
    expect(await store.totalSince('unlucky', new Date(Date.now() - 3_600_000))).toBe(25);
  });
});
