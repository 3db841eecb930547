import type { UserConfig } from 'vite';

// Paths are taken from this file's location, so the build works from any working directory.
const here = (path: string): string => decodeURIComponent(new URL(path, import.meta.url).pathname);

export default {
  root: here('.'),
  // The page is served at `/` by src/http/routes/web.ts.
  base: '/',
  publicDir: here('public'),
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    // One small entry chunk: no preload helper or polyfill to ship.
    modulePreload: false,
    sourcemap: false,
    reportCompressedSize: true,
  },
} satisfies UserConfig;
