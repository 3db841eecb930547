import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('docs/AGENTS.md', () => {
  it('shows the agent-token verification example exactly as the tested file has it', () => {
    expect(read('docs/AGENTS.md')).toContain(read('docs/examples/verify-agent-token.ts'));
  });
});
