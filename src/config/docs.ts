import { z } from 'zod';
import { SETTINGS } from './schema.js';

/** The settings table of docs/CONFIG.md, generated from SETTINGS (test/config.test.ts keeps the doc equal to it). */
export function settingsTable(): string {
  const rows = Object.entries(SETTINGS).map(([name, s]) => {
    const fallback = s.default === undefined ? '(unset)' : s.default === '' ? '(empty)' : `\`${s.default}\``;
    return `| \`${name}\` | ${fallback} | ${rangeOf(s.schema)} | ${s.doc} |`;
  });
  return ['| variable | default | range | what it does |', '|---|---|---|---|', ...rows].join('\n');
}

function rangeOf(schema: z.ZodType): string {
  if (schema instanceof z.ZodNumber) return `${schema.minValue ?? ''}–${schema.maxValue ?? ''}`;
  if (schema instanceof z.ZodEnum) return schema.options.map((o) => `\`${String(o)}\``).join(', ');
  return '';
}
