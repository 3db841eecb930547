/** Small statistics and formatting helpers shared by the comparison benchmark. */

export const quantile = (xs: readonly number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The median of several passes and their spread, for one figure. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly passes: readonly number[];
}

/** NaN (not measured) is left out; Infinity (never arrived) is kept and sorts last. */
export function summarize(passes: readonly number[]): Summary {
  const known = passes.filter((x) => !Number.isNaN(x));
  return {
    median: median(known),
    min: known.length === 0 ? NaN : Math.min(...known),
    max: known.length === 0 ? NaN : Math.max(...known),
    passes,
  };
}

/** Thousands separators, no decimals: 88123 → "88,123". */
export const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');

export const fixed = (x: number, digits: number): string =>
  Number.isFinite(x) ? x.toFixed(digits) : x === Infinity ? '∞' : '—';

export const ratio = (x: number): string => (Number.isNaN(x) ? '—' : `${fixed(x, 2)}x`);

export const kb = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KB` : '—');

export const mb = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : '—');

/** "1.23x (1.10–1.31)": a ratio's median and spread. */
export const ratioSpread = (s: Summary): string => `${ratio(s.median)} (${fixed(s.min, 2)}–${fixed(s.max, 2)})`;

/** CPU seconds (user + system) from a process.cpuUsage() value. */
export const cpuSeconds = (cpu: NodeJS.CpuUsage): number => (cpu.user + cpu.system) / 1e6;
