/**
 * A server in its own process, for the crash test: `node --import tsx crash-server.ts` with CRASH_DATA_DIR set.
 * Prints `{"url": ...}` on one line once it listens; the test then kills it with SIGKILL (no graceful stop).
 */
import { waitTool } from '../../../src/agents/index.js';
import { createTestApp } from '../../../src/testing/index.js';

const dataDir = process.env.CRASH_DATA_DIR;
if (dataDir === undefined) throw new Error('CRASH_DATA_DIR is required');
// Only the tool the test calls ("wait 30 seconds"): the calculator's second of loading is not needed here.
const app = await createTestApp({ DATA_DIR: dataDir }, { tools: [waitTool] });
process.stdout.write(`${JSON.stringify({ url: app.url })}\n`);
