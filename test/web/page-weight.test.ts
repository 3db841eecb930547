import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild, WEB_DIST } from './helpers/build.js';

/** What a first visit downloads: prints the JS and CSS of the build, raw and gzipped, and holds them to a budget. */
const BUDGET_GZIPPED = { js: 60_000, css: 8_000 };

describe('page weight', () => {
  beforeAll(async () => {
    await ensureWebBuild();
  }, 120_000);

  it('stays within its budget (gzip -9, as the server sends it)', () => {
    const assets = readdirSync(join(WEB_DIST, 'assets'));
    const weigh = (ext: string): { files: number; raw: number; gzipped: number } => {
      const bodies = assets.filter((f) => f.endsWith(ext)).map((f) => readFileSync(join(WEB_DIST, 'assets', f)));
      return {
        files: bodies.length,
        raw: sum(bodies.map((b) => b.length)),
        gzipped: sum(bodies.map((b) => gzipSync(b, { level: 9 }).length)),
      };
    };
    const js = weigh('.js');
    const css = weigh('.css');
    const html = readFileSync(join(WEB_DIST, 'index.html'));
    console.log(
      `page weight: JS ${js.raw} B (${js.gzipped} B gzipped, ${js.files} file), CSS ${css.raw} B (${css.gzipped} B gzipped, ${css.files} file), ` +
        `index.html ${html.length} B (${gzipSync(html, { level: 9 }).length} B gzipped)`,
    );
    // One entry script and one stylesheet: nothing is fetched after them.
    expect({ js: js.files, css: css.files }).toEqual({ js: 1, css: 1 });
    expect(js.gzipped).toBeLessThanOrEqual(BUDGET_GZIPPED.js);
    expect(css.gzipped).toBeLessThanOrEqual(BUDGET_GZIPPED.css);
  });
});

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
