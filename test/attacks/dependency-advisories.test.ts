import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

/** Installed version of a production dependency, as npm resolved it. */
function installed(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

function atLeast(version: string, floor: string): boolean {
  const a = version.split('.').map(Number);
  const b = floor.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

// An offline floor under `npm audit` (which needs the registry's advisory endpoint; .ci/run runs it where it can):
// the first fixed version of each published high-severity advisory of the packages that face attackers.
const FLOORS: ReadonlyArray<{ name: string; floor: string; advisories: string }> = [
  {
    name: 'ws',
    floor: '8.21.3',
    advisories:
      'CVE-2024-37890 (many headers, fixed 8.17.1); GHSA-96hv-2xvq-fx4p / CVE-2026-48779 (tiny fragments, fixed 8.21.0); CVE-2026-62389 (unfinished fragments, fixed 8.21.1); GHSA-58qx-3vcg-4xpx (memory disclosure, fixed by 8.21.3)',
  },
  {
    name: 'fastify',
    floor: '5.8.3',
    advisories:
      'GHSA-mg2h-6x62-wpwc / CVE-2025-32442; GHSA-jx2c-rxcm-jvmq / CVE-2026-25223 (Content-Type tab); GHSA-444r-cwp2-x5xf / CVE-2026-3635; GHSA-mrq3-vjjr-p77c / CVE-2026-25224',
  },
];

describe('dependency advisories', () => {
  for (const { name, floor, advisories } of FLOORS) {
    it(`[${advisories.split(';')[0]!.trim()} …] ${name} is at or above ${floor}, the first version fixing its published advisories`, () => {
      expect(atLeast(installed(name), floor), `${name} ${installed(name)} < ${floor}: ${advisories}`).toBe(true);
    });
  }
});
