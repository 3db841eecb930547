import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('agentgate --version', () => {
  it("prints the package's version alone and exits 0 (-v too); --help mentions it", async () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-v'])
      expect(await cli([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect((await cli(['--help'])).stdout).toContain('agentgate --version');
  });
});
