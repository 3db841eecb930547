import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/testing/free-port.js';
import { installInEmptyProject, pack, plainEnv, REPO, runNode, sh } from './helpers.js';

interface Manifest {
  version: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, Record<string, string>>>;
}
const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as Manifest;

/** What the tarball may hold: the build, the docs the docs-search tool reads at run time, and the usual four. */
const SHIPPED =
  /^(dist\/.+\.js|dist\/(client|protocol\/wire)\/[^/]+\.d\.ts|dist\/web\/.+|docs\/[^/]+\.md|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/;

/** The native modules of the server, and the binary each loads from build/Release. */
const NATIVE = [
  ['better-sqlite3', 'better_sqlite3.node'],
  ['argon2', 'argon2.node'],
] as const;

const versionOf = (dir: string) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest).version;

function exportTargets(): string[] {
  return Object.values(manifest.exports).flatMap((target) =>
    typeof target === 'string' ? [target] : Object.values(target).flatMap((condition) => Object.values(condition)),
  );
}

describe('@agentgate-dev/server: what the tarball holds', () => {
  it('holds the build (with the web page and the SDK declarations), the docs, README, LICENSE, CHANGELOG and no more', async () => {
    const out = await sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO });
    const [result] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ name: string; files: Array<{ path: string }> }>;
    const files = (result?.files ?? []).map((f) => f.path);
    expect(result?.name).toBe('@agentgate-dev/server');
    expect(files.filter((file) => !SHIPPED.test(file))).toEqual([]);
    const needed = ['dist/main.js', 'dist/web/index.html', 'LICENSE', 'CHANGELOG.md', 'README.md', 'docs/SDK.md'];
    const targets = [...Object.values(manifest.bin), ...exportTargets()].map((t) => t.replace(/^\.\//, ''));
    // dist/ comes from `npm run build` (npm install runs it): a build before declarations were on lacks the .d.ts.
    expect(files).toEqual(expect.arrayContaining([...needed, ...targets]));
    expect(readFileSync(join(REPO, 'dist/main.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });
});

// The server as someone installs it: `npm pack` (of the dist/ built already), `npm install` of the tarball into an
// empty project, then its `agentgate` command serves from there and the SDK it carries talks to it.
describe('@agentgate-dev/server, packed and installed into an empty project', () => {
  let work: string;
  let consumer: string;
  let server: ChildProcess | undefined;
  let exited: Promise<number | NodeJS.Signals | null> | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'agentgate-server-package-'));
    consumer = join(work, 'consumer');
    const tarball = await pack(REPO, work, { ignoreScripts: true });
    // Install scripts off: better-sqlite3's would compile it (minutes here: its prebuilt binaries are downloaded
    // from outside the registry, which this machine cannot reach), and argon2's would test-load the binary its
    // package ships and compile when that fails (on this machine it crashes on load: SIGSEGV). What those scripts
    // would build is what the repository's own install built, for the same versions: each takes that binary where
    // the repository has one, in build/Release, where bindings and node-gyp-build look first.
    await installInEmptyProject(consumer, tarball, { ignoreScripts: true });
    for (const [name, binary] of NATIVE) {
      const [installed, built] = [join(consumer, 'node_modules', name), join(REPO, 'node_modules', name)];
      if (!existsSync(join(built, 'build/Release', binary))) continue;
      expect(versionOf(installed), `${name} as installed and as built in the repository`).toBe(versionOf(built));
      mkdirSync(join(installed, 'build/Release'), { recursive: true });
      copyFileSync(join(built, 'build/Release', binary), join(installed, 'build/Release', binary));
    }
  }, 180_000);

  afterAll(async () => {
    server?.kill('SIGKILL');
    await exited;
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('agentgate --version prints the version', async () => {
    const out = await sh(join(consumer, 'node_modules/.bin/agentgate'), ['--version'], { cwd: consumer });
    expect(out).toBe(`${manifest.version}\n`);
  });

  it('agentgate serve runs from the install: the page, a run with a docs search, the SDK as ./client', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let output = '';
    server = spawn(join(consumer, 'node_modules/.bin/agentgate'), ['serve'], {
      cwd: consumer,
      env: plainEnv({ HOST: '127.0.0.1', PORT: String(port), DATA_DIR: join(work, 'data'), LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = server;
    exited = new Promise((resolve) => started.once('exit', (code, signal) => resolve(code ?? signal)));
    server.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const live = await fetch(`${url}/health/live`).catch(() => undefined);
      if (live?.ok === true) break;
      if (started.exitCode !== null || started.signalCode !== null || Date.now() > deadline)
        throw new Error(`the server did not start:\n${output}`);
      await delay(200);
    }

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module"');

    writeFileSync(
      join(consumer, 'use.mjs'),
      `import { AgentgateClient } from '@agentgate-dev/server/client';
const client = new AgentgateClient({ baseUrl: process.argv[2] });
await client.register('ada@example.com', 'correct horse battery');
const events = [];
for await (const event of client.run('search docs for tickets')) events.push(event);
client.close();
const done = events.find((e) => e.type === 'tool_completed');
console.log(JSON.stringify({ last: events.at(-1).type, tool: done?.tool, ok: done !== undefined && done.error === undefined, result: done?.result }));
`,
    );
    const run = JSON.parse(await runNode(consumer, 'use.mjs', [url])) as Record<string, unknown>;
    expect(run).toMatchObject({ last: 'agent_completed', tool: 'search_docs', ok: true });
    expect(JSON.stringify(run.result)).toContain('.md');

    started.kill('SIGTERM');
    expect(await exited, output).toBe(0);
  }, 90_000);
});
