import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocsSearchTool, ToolRegistry } from '../../src/agents/index.js';
import type { DocsSearchHit, ToolOutcome } from '../../src/agents/index.js';
import { testContext } from './fake-io.js';

let root: string;
const ctx = { run: testContext, signal: new AbortController().signal };

const PROTOCOL = `# Protocol

Intro text about the protocol.

## Tickets

A ticket is a short-lived, single-use credential. Exchange your access token for a ticket, then open the
WebSocket with the ticket in the query string. Tickets expire after 30 seconds.

\`\`\`sh
# Tokens are not headings inside code
curl -X POST /v1/ws-ticket
\`\`\`

## Close codes ##

The server closes with 4001 when the access token expires.
`;

const AUTH = `# Authentication

## Refresh tokens

Refresh tokens rotate on every use. Reusing a spent refresh token revokes the whole family of tokens.

## Passwords

${'Passwords are hashed with argon2id. '.repeat(20)}The token word appears only at the very end.
`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'agentgate-docs-'));
  await mkdir(join(root, 'docs', 'guides'), { recursive: true });
  await writeFile(join(root, 'docs', 'PROTOCOL.md'), PROTOCOL);
  await writeFile(join(root, 'docs', 'guides', 'AUTH.md'), AUTH);
  await writeFile(join(root, 'docs', 'notes.txt'), 'ticket ticket ticket ticket');
  await writeFile(join(root, 'README.md'), '# agentgate\n\nPut AI agents in front of real users.\n');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function search(paths: string[], args: Record<string, unknown>): Promise<DocsSearchHit[]> {
  const outcome: ToolOutcome = await new ToolRegistry([createDocsSearchTool(paths)]).invoke('search_docs', args, ctx);
  if (!outcome.ok) throw new Error(outcome.error.message);
  return (outcome.result as { results: DocsSearchHit[] }).results;
}

describe('search_docs tool', () => {
  it('finds the best section first, by file and heading', async () => {
    const results = await search([join(root, 'docs')], { query: 'how do I get a ticket?' });
    expect(results[0]).toMatchObject({ file: 'docs/PROTOCOL.md', heading: 'Tickets' });
    expect(results[0]?.excerpt).toMatch(/^A ticket is a short-lived/);
    expect(results.every((r) => r.file !== 'docs/notes.txt')).toBe(true);
  });

  it('ranks by term frequency, searches subdirectories and respects the limit', async () => {
    const results = await search([join(root, 'docs')], { query: 'refresh tokens', limit: 2 });
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({ file: 'docs/guides/AUTH.md', heading: 'Refresh tokens' });
    expect(results[0]!.score).toBeGreaterThan(results[1]!.score);
  });

  it('does not treat "#" lines in code blocks as headings', async () => {
    const results = await search([join(root, 'docs')], { query: 'curl', limit: 10 });
    expect(results.map((r) => r.heading)).toEqual(['Tickets']);
  });

  it('drops closing hashes from headings', async () => {
    const results = await search([join(root, 'docs')], { query: '4001' });
    expect(results.map((r) => r.heading)).toEqual(['Close codes']);
  });

  it('keeps excerpts to 300 characters around the match', async () => {
    const [hit] = await search([join(root, 'docs')], { query: 'word appears', limit: 1 });
    expect(hit?.heading).toBe('Passwords');
    expect(hit!.excerpt.length).toBeLessThanOrEqual(300);
    expect(hit!.excerpt).toMatch(/^….*The token word appears only at the very end\.$/);
  });

  it('also searches single files such as the README', async () => {
    const results = await search([join(root, 'docs'), join(root, 'README.md')], { query: 'real users' });
    expect(results[0]).toMatchObject({ file: 'README.md', heading: 'agentgate' });
  });

  it('returns nothing when nothing matches, or only stop words are asked for', async () => {
    expect(await search([join(root, 'docs')], { query: 'kubernetes' })).toEqual([]);
    expect(await search([join(root, 'docs')], { query: 'how do I' })).toEqual([]);
  });

  it('treats a missing directory as empty', async () => {
    expect(await search([join(root, 'missing')], { query: 'ticket' })).toEqual([]);
  });

  it('reads the files once and caches them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentgate-cache-'));
    try {
      await writeFile(join(dir, 'A.md'), '# Alpha\n\nalpha content\n');
      const registry = new ToolRegistry([createDocsSearchTool([dir])]);
      const first = await registry.invoke('search_docs', { query: 'alpha' }, ctx);
      await writeFile(join(dir, 'B.md'), '# Beta\n\nalpha again\n');
      const second = await registry.invoke('search_docs', { query: 'alpha' }, ctx);
      expect(second).toEqual(first);
      expect((second as { result: { results: unknown[] } }).result.results).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
