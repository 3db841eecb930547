import { describe, expect, it } from 'vitest';
import { planIntents } from '../../src/agents/index.js';

describe('planIntents', () => {
  it.each([
    ['calculate 12*7', [{ kind: 'calculate', expression: '12*7' }]],
    ['what is 2 plus 3 times 4?', [{ kind: 'calculate', expression: '2 + 3 * 4' }]],
    ['calculate 5!', [{ kind: 'calculate', expression: '5!' }]],
    ['time in Asia/Tokyo', [{ kind: 'time', timeZone: 'Asia/Tokyo' }]],
    ['what is the time', [{ kind: 'time', timeZone: 'UTC' }]],
    ['sleep 3', [{ kind: 'wait', seconds: 3 }]],
    ['wait 2 minutes', [{ kind: 'wait', seconds: 120 }]],
    ['docs: websocket close codes', [{ kind: 'docs', query: 'websocket close codes' }]],
    ['what is agentgate?', [{ kind: 'docs', query: 'what is agentgate' }]],
    ['what time does my token expire?', [{ kind: 'docs', query: 'what time does my token expire' }]],
    ['how do I create and cancel a run?', [{ kind: 'docs', query: 'how do I create and cancel a run' }]],
    ['search docs for tickets and tokens', [{ kind: 'docs', query: 'tickets and tokens' }]],
    [
      'wait 1 second, then calculate 1/3; what time is it in America/New_York',
      [
        { kind: 'wait', seconds: 1 },
        { kind: 'calculate', expression: '1/3' },
        { kind: 'time', timeZone: 'America/New_York' },
      ],
    ],
    ['hello there', []],
  ])('reads %j', (text, intents) => {
    expect(planIntents(text)).toEqual(intents);
  });

  it.each([' '.repeat(100_000) + 'x', 'calculate ' + ' ?'.repeat(50_000) + 'x', 'time in ' + 'a_'.repeat(50_000)])(
    'stays fast on hostile input (%#)',
    (text) => {
      const started = performance.now();
      planIntents(text);
      expect(performance.now() - started).toBeLessThan(500);
    },
  );
});
