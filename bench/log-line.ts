/**
 * What the one log line of every run ('run ended', at info) costs: agentgate's logger (createLogger: credentials
 * censored by censorCredentials) against pino with the redact paths it replaced (`*.password`, `*.token`, ...: every
 * value of every line went through them). Both write to /dev/null asynchronously, as the server writes to stdout.
 *   npm run bench -- log-line
 */
import { pino, type Logger } from 'pino';
import { createLogger, REDACTED_PATHS } from '../src/app/logger.js';

const WILDCARD_PATHS = [
  '*.password',
  '*.accessToken',
  '*.refreshToken',
  '*.ticket',
  '*.token',
  '*.apiKey',
  '*.*.apiKey',
];
const devNull = () => pino.destination({ dest: '/dev/null', sync: false });
const loggers: Record<string, Logger> = {
  'pino redact, wildcard paths': pino(
    { level: 'info', base: { service: 'agentgate' }, redact: { paths: [...REDACTED_PATHS, ...WILDCARD_PATHS] } },
    devNull(),
  ),
  // createLogger takes any writable; pino's own destination is one in all but its type.
  'createLogger (censorCredentials)': createLogger({ logLevel: 'info' }, devNull() as unknown as NodeJS.WritableStream),
};
const fields = {
  runId: 'run-1',
  threadId: 'thread-1',
  userId: 'user-1',
  connectionId: 'conn-1',
  clientMessageId: 'm1',
};
const N = 100_000;
const samples = new Map<string, number[]>();
for (let round = 0; round < 3; round++) {
  for (const [name, log] of Object.entries(loggers)) {
    for (let i = 0; i < N / 5; i++)
      log.info({ ...fields, status: 'completed', events: 50, durationMs: 12 }, 'run ended');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) log.info({ ...fields, status: 'completed', events: 50, durationMs: 12 }, 'run ended');
    samples.set(name, [...(samples.get(name) ?? []), Number(process.hrtime.bigint() - t0) / N / 1000]);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const [baseline, ours] = Object.keys(loggers).map((k) => median(samples.get(k)!));
for (const [name, xs] of samples)
  console.log(`${name.padEnd(34)} ${median(xs).toFixed(2)} µs per 'run ended' line (median of 3)`);
console.log(`ratio: ${(baseline! / ours!).toFixed(1)}x less per line`);
