/**
 * Which agentgate the benchmark runs: the build in dist/ by default (what `npm start` runs; `npm run bench` builds
 * it first, and tsc keeps line numbers, so CPU profiles point at real lines), or src/ through tsx with
 * AGENTGATE_BENCH_CODE=src (no build needed; tsx output is one line per file, so profiles show columns only).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as AppModule from '../../src/app/index.js';
import type * as AuthModule from '../../src/auth/index.js';
import type * as ConfigModule from '../../src/config/index.js';
import type * as StorageModule from '../../src/storage/index.js';

const useSrc = process.env.AGENTGATE_BENCH_CODE === 'src';
const base = new URL(useSrc ? '../../src/' : '../../dist/', import.meta.url);
if (!useSrc && !existsSync(fileURLToPath(new URL('app/index.js', base)))) {
  throw new Error('dist/ is missing: run `npm run build` (npm run bench does), or set AGENTGATE_BENCH_CODE=src');
}
const load = (path: string): Promise<unknown> => import(new URL(path, base).href);

export const codeRoot = useSrc ? 'src' : 'dist';
export const app = (await load('app/index.js')) as typeof AppModule;
export const auth = (await load('auth/index.js')) as typeof AuthModule;
export const config = (await load('config/index.js')) as typeof ConfigModule;
export const storage = (await load('storage/index.js')) as typeof StorageModule;
