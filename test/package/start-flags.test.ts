import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('the node flags the server is started with', () => {
  it('are the same for npm start and the container (the benchmark reads them from npm start)', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
    const flags = start.split(' ').filter((word) => word.startsWith('--'));
    // A young generation of 64 MiB per semi-space: a streaming server allocates a lot that dies young.
    expect(flags).toEqual(['--max-semi-space-size=64']);
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['/usr/bin/tini', '--', 'node', ...flags, '/app/dist/main.js']);
  });
});
