import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { censorCredentials, createLogger } from '../../src/app/logger.js';

function capture(): { lines: () => Record<string, unknown>[]; sink: Writable } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, sink };
}

describe('log lines never carry credentials', () => {
  it('in the object logged, in objects in it two levels down, through child loggers and in logged headers', async () => {
    const { lines, sink } = capture();
    const logger = createLogger({ logLevel: 'info' }, sink);
    const body = { email: 'a@example.com', password: 'hunter2-secret' };
    logger.info({ body, ticket: 'tk-secret', runId: 'r1' }, 'one');
    logger.info({ config: { llm: { apiKey: 'sk-secret', model: 'm' } }, user: { accessToken: 'at-secret' } }, 'two');
    logger.child({ connectionId: 'c1' }).info({ refreshToken: 'rt-secret', user: { token: 't-secret' } }, 'three');
    logger.info({ headers: { authorization: 'Bearer h-secret', 'sec-websocket-protocol': 'bearer.p-secret' } }, 'four');
    await new Promise((resolve) => setImmediate(resolve));
    const [one, two, three, four] = lines();
    expect(one).toMatchObject({ body: { email: 'a@example.com', password: '[redacted]' }, ticket: '[redacted]' });
    expect(one!.runId).toBe('r1');
    expect(two).toMatchObject({
      config: { llm: { apiKey: '[redacted]', model: 'm' } },
      user: { accessToken: '[redacted]' },
    });
    expect(three).toMatchObject({ connectionId: 'c1', refreshToken: '[redacted]', user: { token: '[redacted]' } });
    expect(four).toMatchObject({
      headers: { authorization: '[redacted]', 'sec-websocket-protocol': '[redacted]' },
    });
    expect(JSON.stringify(lines())).not.toMatch(/secret/);
    // What was logged is not changed.
    expect(body.password).toBe('hunter2-secret');
  });

  it('copies an object only where it finds a credential', () => {
    const plain = { runId: 'r', status: 'completed', events: 50, nested: { a: 1 } };
    expect(censorCredentials(plain)).toBe(plain);
    const found = { runId: 'r', nested: { a: 1 }, deep: { token: 't' } };
    const censored = censorCredentials(found);
    expect(censored).toEqual({ runId: 'r', nested: { a: 1 }, deep: { token: '[redacted]' } });
    expect(censored.nested).toBe(found.nested);
    // Three levels down is past the bound (as pino's `*.*.apiKey` was the deepest path).
    const deep = { a: { b: { c: { token: 't' } } } };
    expect(censorCredentials(deep)).toBe(deep);
  });
});
