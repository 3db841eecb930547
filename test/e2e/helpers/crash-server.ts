/**
 * A server in its own process, for the crash test: `node --import tsx crash-server.ts` with CRASH_DATA_DIR set.
 * Prints `{"url": ...}` on one line once it listens; the test then kills it with SIGKILL (no graceful stop).
 */
import { createTestApp } from '../../../src/testing/index.js';

const dataDir = process.env.CRASH_DATA_DIR;
if (dataDir === undefined) throw new Error('CRASH_DATA_DIR is required');
const app = await createTestApp({ DATA_DIR: dataDir });
process.stdout.write(`${JSON.stringify({ url: app.url })}\n`);
