import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { installInEmptyProject, pack, REPO, runNode, sh, tsc } from './helpers.js';

const CLIENT_DIR = join(REPO, 'packages/client');
const PASSWORD = 'correct horse battery';

/** The first ```ts block of docs/SDK.md: the example a reader copies first. */
function sdkExample(): string {
  const doc = readFileSync(join(REPO, 'docs/SDK.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  if (block === undefined) throw new Error('docs/SDK.md has no ts block');
  return block;
}

// The SDK as a reader gets it: `npm pack` of packages/client, installed into an empty project, used from there
// with plain node against a real server, type-checked with the installed declarations, bundled for a browser.
describe('@agentgate-dev/client, packed and installed into an empty project', () => {
  let app: TestApp;
  let work: string;
  let consumer: string;
  let tarball: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'agentgate-client-package-'));
    consumer = join(work, 'consumer');
    [app, tarball] = await Promise.all([createTestApp(), pack(CLIENT_DIR, work)]);
    await installInEmptyProject(consumer, tarball);
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('holds the built SDK, its declarations, the wire vocabulary, LICENSE and CHANGELOG, and depends on ws only', () => {
    const installed = join(consumer, 'node_modules/@agentgate-dev/client');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      version: string;
      dependencies: Record<string, string>;
    };
    const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(manifest.version).toBe(root.version);
    expect(Object.keys(manifest.dependencies)).toEqual(['ws']);
    for (const file of ['dist/client/index.js', 'dist/client/node.d.ts', 'dist/protocol/wire/close.js', 'README.md'])
      expect(() => readFileSync(join(installed, file)), file).not.toThrow();
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toBe(readFileSync(join(REPO, 'LICENSE'), 'utf8'));
    expect(readFileSync(join(installed, 'CHANGELOG.md'), 'utf8')).toContain('## [0.1.0]');
  });

  it("runs docs/SDK.md's example with plain node: login, a run streamed to the end", async () => {
    const example = sdkExample();
    expect(example).toContain("from '@agentgate-dev/client'");
    await fetch(`${app.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', password: PASSWORD }),
    });
    writeFileSync(join(consumer, 'sdk-example.mjs'), example.replaceAll('http://127.0.0.1:8080', app.url));
    expect(await runNode(consumer, 'sdk-example.mjs')).toBe('12*7 = 84');
  });

  it('in Node resolves to the ws build: registers, runs with tools, lists threads, fails with coded errors', async () => {
    writeFileSync(
      join(consumer, 'use.mjs'),
      `import { AgentgateClient, isClientError } from '@agentgate-dev/client';
const [baseUrl, email, password] = process.argv.slice(2);
const client = new AgentgateClient({ baseUrl });
const user = await client.register(email, password);
const events = [];
for await (const event of client.run('calculate 12*7')) events.push(event.type);
const threads = await client.threads();
let refused;
try {
  await new AgentgateClient({ baseUrl }).login(email, 'not the password at all');
} catch (err) {
  refused = isClientError(err) ? err.code : String(err);
}
client.close();
const resolved = import.meta.resolve('@agentgate-dev/client');
console.log(JSON.stringify({ email: user.email, events, threads: threads.length, refused, resolved }));
`,
    );
    const out = JSON.parse(await runNode(consumer, 'use.mjs', [app.url, 'grace@example.com', PASSWORD])) as Record<
      string,
      unknown
    >;
    expect(out).toMatchObject({ email: 'grace@example.com', threads: 1, refused: 'invalid_credentials' });
    expect(out.events).toEqual(expect.arrayContaining(['agent_started', 'tool_completed', 'agent_completed']));
    expect(out.resolved).toMatch(/node_modules\/@agentgate-dev\/client\/dist\/client\/node\.js$/);
  });

  it('type-checks against the installed declarations: node.d.ts under NodeNext, index.d.ts for a browser bundler', async () => {
    writeFileSync(
      join(consumer, 'check.ts'),
      `import { AgentgateClient, isClientError, type RunEvent } from '@agentgate-dev/client';

export async function lastEvent(baseUrl: string): Promise<RunEvent | undefined> {
  const client = new AgentgateClient({ baseUrl, reconnect: { maxAttempts: 3 } });
  await client.login('ada@example.com', 'correct horse battery');
  let last: RunEvent | undefined;
  for await (const event of client.run('calculate 12*7')) {
    if (event.type === 'agent_message_delta') console.log(event.text.toUpperCase());
    last = event;
  }
  try {
    await client.cancel('run-id');
  } catch (err) {
    if (isClientError(err) && err.code === 'not_found') return last;
  }
  // @ts-expect-error: baseUrl is required (the types are real, not any)
  new AgentgateClient({});
  return last;
}
`,
    );
    const types = join(REPO, 'node_modules/@types');
    const base = { strict: true, noEmit: true, skipLibCheck: true, target: 'ES2022' };
    // The browser check reads the package's declarations too (skipLibCheck off); the Node one skips them, or it
    // would spend ten seconds checking @types/node.
    const configs = {
      node: { ...base, module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], typeRoots: [types] },
      browser: {
        ...base,
        skipLibCheck: false,
        skipDefaultLibCheck: true,
        module: 'ESNext',
        moduleResolution: 'Bundler',
        customConditions: ['browser'],
        lib: ['ES2023', 'DOM'],
        types: [],
      },
    };
    await Promise.all(
      Object.entries(configs).map(async ([name, compilerOptions]) => {
        const project = join(consumer, `tsconfig.${name}.json`);
        writeFileSync(project, JSON.stringify({ compilerOptions, files: ['check.ts'] }));
        const files = await tsc(project, ['--listFiles']); // throws with the compiler's errors
        const entry = `@agentgate-dev/client/dist/client/${name === 'node' ? 'node' : 'index'}.d.ts`;
        expect(files, name).toContain(entry);
        if (name === 'browser') expect(files).not.toContain('client/node.d.ts');
      }),
    );
  }, 120_000);

  it('bundles for a browser (Vite) without ws or any Node module', async () => {
    writeFileSync(
      join(consumer, 'page.js'),
      "import { AgentgateClient } from '@agentgate-dev/client';\nexport const client = new AgentgateClient({ baseUrl: '' });\n",
    );
    writeFileSync(
      join(consumer, 'vite.config.mjs'),
      `export default { logLevel: 'silent', build: { outDir: 'bundle', minify: false, lib: { entry: 'page.js', formats: ['es'], fileName: 'page' } } };\n`,
    );
    // Vite's own command, as the project's build script would run it (Vite, like the browser, sets "browser").
    await sh(process.execPath, [join(REPO, 'node_modules/vite/bin/vite.js'), 'build'], { cwd: consumer });
    const code = readFileSync(join(consumer, 'bundle/page.js'), 'utf8');
    expect(code).toContain('/ws/ticket');
    expect(code).not.toMatch(/from ["'](ws|node:[a-z_]+)["']|require\(|perMessageDeflate/);
  });
});
