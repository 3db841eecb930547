import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors/index.js';
import { CLOSE, closeRuleOf, TRANSPORT_CLOSES, type CloseRule } from '../../src/protocol/index.js';

const protocolDoc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');

/** The rows of the first table under `heading`, as trimmed cells (header and separator dropped). */
function tableUnder(heading: string): string[][] {
  const start = protocolDoc.indexOf(`\n${heading}\n`);
  expect(start, `docs/PROTOCOL.md has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const lines = protocolDoc.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const unquote = (cell: string): string => cell.replace(/^`(.*)`$/, '$1');

function reconnectText(rule: CloseRule): string {
  const delay = rule.minDelayMs === undefined ? '' : ` after ${rule.minDelayMs} ms`;
  return `${rule.reconnect}${delay}${rule.endsSession === true ? ', ends the session' : ''}`;
}

describe('docs/PROTOCOL.md matches the code tables', () => {
  it('"Error codes" lists every code of ERROR_CODES, once, with its HTTP status and meaning', () => {
    const documented = tableUnder('### Error codes').map(([code, http, meaning]) => ({
      code: unquote(code ?? ''),
      http: Number(http),
      meaning,
    }));
    const expected = Object.entries(ERROR_CODES).map(([code, entry]) => ({
      code,
      http: entry.http,
      meaning: 'runOnly' in entry ? entry.doc.replace(/\.$/, ' (`agent_error` only).') : entry.doc,
    }));
    expect(documented).toEqual(expected);
  });

  it('"Close codes" lists every close of CLOSE and TRANSPORT_CLOSES with its reason, SDK code and reconnect rule', () => {
    const documented = tableUnder('### Close codes').map(([code, reason, name, reconnect]) => ({
      code: Number(code),
      reason: reason?.startsWith('`') === true ? unquote(reason) : undefined,
      name: unquote(name ?? ''),
      reconnect,
    }));
    const expected = [
      ...Object.values(CLOSE).map((c) => ({
        code: c.code,
        reason: c.reason,
        name: c.name,
        reconnect: reconnectText(c),
      })),
      ...Object.entries(TRANSPORT_CLOSES).map(([code, rule]) => ({
        code: Number(code),
        reason: undefined,
        name: rule.name,
        reconnect: reconnectText(rule),
      })),
    ];
    const byCode = (a: { code: number; reason?: string }, b: { code: number; reason?: string }) =>
      a.code - b.code || (a.reason ?? '').localeCompare(b.reason ?? '');
    expect([...documented].sort(byCode)).toEqual([...expected].sort(byCode));
  });

  it('every documented close is what closeRuleOf answers for it (the rule a client follows is the documented one)', () => {
    for (const [code, reason, name, reconnect] of tableUnder('### Close codes')) {
      const rule = closeRuleOf(Number(code), reason?.startsWith('`') === true ? unquote(reason) : '');
      expect({ name: rule.name, reconnect: reconnectText(rule) }, `close ${code} ${reason}`).toEqual({
        name: unquote(name ?? ''),
        reconnect,
      });
    }
  });
});
