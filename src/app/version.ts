import { readFileSync } from 'node:fs';

/** This build's version, from the package.json beside src/ and dist/ (read once, at start-up). */
export const AGENTGATE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
