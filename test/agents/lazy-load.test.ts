import { describe, expect, it } from 'vitest';
import { packagesLoadedBy } from '../../src/testing/loaded-packages.js';

const HEAVY = ['mathjs', 'openai', '@anthropic-ai/sdk', '@ag-ui/client', 'rxjs', '@modelcontextprotocol/sdk'];

describe('start-up loads only what the configuration uses (issue 25.6)', () => {
  it('the default offline server loads no model SDK, no AG-UI client and no calculator library', async () => {
    const loaded = await packagesLoadedBy({});
    expect(loaded).toContain('fastify'); // the recorder works
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual([]);
  });

  it('LLM_PROVIDER=openai loads the openai SDK at start-up, and no other', async () => {
    const loaded = await packagesLoadedBy({
      LLM_PROVIDER: 'openai',
      LLM_MODEL: 'test-model',
      LLM_BASE_URL: 'http://127.0.0.1:9/v1',
    });
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual(['openai']);
  });
});
