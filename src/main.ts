#!/usr/bin/env node
import { runCli } from './cli/index.js';

// A reader that went away (`agentgate chat --json | head`) is no failure: stop quietly, as Unix tools do. (The
// server logs through its own destination, not this stream.)
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

// The one place the process is touched: its arguments, streams, environment and signals.
runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onSignal: (signal, listener) => {
    process.on(signal, listener);
    return () => void process.off(signal, listener);
  },
}).then(
  (code) => {
    // -1: serve keeps running until a signal. Otherwise exit once the output is flushed and handles are closed.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error('agentgate failed:', err);
    process.exit(1);
  },
);
