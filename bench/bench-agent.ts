import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Agent, AgentIO, AgentRequest, AgentResult } from '../src/agents/index.js';
import { deltaText } from './lib/workload.js';

/**
 * `flood <k>`: k deltas at once (the run then has k + 2 events). `burst <k> <chars>`: the same with deltas of
 * exactly `chars` characters (the comparison workload). `tick <everyMs> <maxMs>`: a delta every everyMs.
 */
export class BenchAgent implements Agent {
  readonly name = 'bench';

  async run(req: AgentRequest, io: AgentIO): Promise<AgentResult> {
    const [kind, a = '0', b = '0'] = req.text.split(/\s+/);
    if (kind === 'flood') {
      for (let i = 1; i <= Number(a); i++) io.delta(`tok${i} `);
      return { text: `${a} deltas` };
    }
    if (kind === 'burst') {
      for (let i = 1; i <= Number(a); i++) io.delta(deltaText(i, Number(b)));
      return { text: `${a} deltas` };
    }
    if (kind === 'tick') {
      const until = performance.now() + Number(b);
      let i = 0;
      while (performance.now() < until) {
        io.delta(`tick${++i} `);
        await delay(Number(a), undefined, { signal: req.signal });
      }
      return { text: `${i} ticks` };
    }
    throw new Error(`unknown bench script: ${req.text}`);
  }
}
