import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import { z } from 'zod';
import { defineTool } from './tool.js';
import type { Tool } from './tool.js';

const docsSearchParameters = z.object({
  query: z.string().min(1).max(200).describe('What to look for, in plain words.'),
  limit: z.number().int().min(1).max(10).default(3).describe('How many sections to return (1 to 10, default 3).'),
});

export interface DocsSearchHit {
  /** Shown relative to the configured path (never absolute, so answers do not reveal the server's layout). */
  readonly file: string;
  readonly heading: string;
  readonly excerpt: string;
  readonly score: number;
}

interface Section {
  readonly file: string;
  readonly heading: string;
  readonly text: string;
  readonly headingTerms: readonly string[];
  readonly bodyTerms: readonly string[];
}

const EXCERPT_MAX = 300;
const HEADING_WEIGHT = 3;
const STOP_WORDS = new Set(
  'the and for are but not you your with this that from have has how what when where which who why can does did was were will would should could into about then than them they their there here its our out all any get got use using a an of to in on at by is it be as or if do i me my we us so no'.split(
    ' ',
  ),
);

/** Lowercased word tokens without stop words; a trailing plural "s" is dropped so "tokens" finds "token". */
function terms(text: string): string[] {
  const words = text.toLowerCase().match(/[a-z0-9_]+/g) ?? [];
  return words
    .filter((w) => w.length > 1 && !STOP_WORDS.has(w))
    .map((w) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w));
}

/** Splits markdown by headings, ignoring "#" lines inside fenced code blocks. */
function splitSections(file: string, markdown: string): Section[] {
  const sections: Section[] = [];
  let heading = basename(file);
  let lines: string[] = [];
  let inFence = false;
  const flush = (): void => {
    const text = lines.join('\n').trim();
    if (text || heading !== basename(file))
      sections.push({ file, heading, text, headingTerms: terms(heading), bodyTerms: terms(text) });
    lines = [];
  };
  for (const line of markdown.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    // Closing "#"s are stripped by hand: a regex doing it would backtrack badly on long lines.
    const title = inFence ? '' : (/^#{1,6}\s(.*)$/.exec(line)?.[1] ?? '').trim().replace(/\s#+$/, '').trim();
    if (title) {
      flush();
      heading = title;
    } else {
      lines.push(line);
    }
  }
  flush();
  return sections;
}

function score(section: Section, queryTerms: ReadonlySet<string>): number {
  let total = 0;
  for (const t of section.bodyTerms) if (queryTerms.has(t)) total += 1;
  for (const t of section.headingTerms) if (queryTerms.has(t)) total += HEADING_WEIGHT;
  return total;
}

/** Up to 300 characters starting a little before the first matching word, so the excerpt shows why it matched. */
function excerptOf(text: string, queryTerms: ReadonlySet<string>): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= EXCERPT_MAX) return flat;
  const lower = flat.toLowerCase();
  let first = -1;
  for (const t of queryTerms) {
    const at = lower.search(new RegExp(`\\b${t}`));
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  let start = first > 80 ? flat.lastIndexOf(' ', first - 40) + 1 : 0;
  // Near the end of a long section, start earlier rather than return a short excerpt.
  start = Math.min(start, flat.length - (EXCERPT_MAX - 1));
  const prefix = start > 0 ? '…' : '';
  const room = EXCERPT_MAX - prefix.length;
  const body = flat.slice(start);
  return prefix + (body.length <= room ? body : `${body.slice(0, room - 1).trimEnd()}…`);
}

async function markdownFilesOf(path: string): Promise<Array<{ absolute: string; shown: string }>> {
  const info = await stat(path).catch(() => null);
  if (!info) return [];
  if (info.isFile()) return [{ absolute: path, shown: basename(path) }];
  if (!info.isDirectory()) return [];
  const entries = await readdir(path, { recursive: true }).catch(() => [] as string[]);
  return entries
    .filter((entry) => entry.toLowerCase().endsWith('.md'))
    .sort()
    .map((entry) => ({ absolute: join(path, entry), shown: [basename(path), ...entry.split(sep)].join('/') }));
}

async function loadSections(paths: readonly string[]): Promise<Section[]> {
  const sections: Section[] = [];
  for (const path of paths) {
    for (const file of await markdownFilesOf(path)) {
      const markdown = await readFile(file.absolute, 'utf8').catch(() => null);
      if (markdown !== null) sections.push(...splitSections(file.shown, markdown));
    }
  }
  return sections;
}

/**
 * Searches the markdown files and directories in `paths` (directories are searched recursively for *.md).
 * Files are read on the first search and kept for the life of the tool; missing paths simply contribute nothing.
 */
export function createDocsSearchTool(paths: readonly string[]): Tool<typeof docsSearchParameters> {
  const configured = [...paths];
  let sections: Promise<Section[]> | undefined;
  return defineTool({
    name: 'search_docs',
    description:
      'Searches the agentgate documentation and returns the best matching sections (file, heading, excerpt).',
    parameters: docsSearchParameters,
    execute: async ({ query, limit }) => {
      sections ??= loadSections(configured);
      const queryTerms = new Set(terms(query));
      if (queryTerms.size === 0) return { results: [] };
      const ranked = (await sections)
        .map((section, order) => ({ section, order, score: score(section, queryTerms) }))
        .filter((hit) => hit.score > 0)
        .sort((a, b) => b.score - a.score || a.order - b.order)
        .slice(0, limit);
      const results: DocsSearchHit[] = ranked.map(({ section, score: s }) => ({
        file: section.file,
        heading: section.heading,
        excerpt: excerptOf(section.text || section.heading, queryTerms),
        score: s,
      }));
      return { results };
    },
  });
}
