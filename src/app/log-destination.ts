import { pino } from 'pino';

/** How long logs may wait on a reader that stopped reading before lines are dropped instead. */
const STALL_MS = 2_000;
/** Lines held for a slow reader at most; past it new lines are dropped, never memory without bound. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Standard output for the server's logs that never stops the server. pino's default writes synchronously, so a
 * reader that stops reading (a stuck log shipper, `| less` left open) fills the pipe and then blocks the event loop
 * in a retry loop: requests stall, and SIGTERM can no longer end the process. Here writes are asynchronous, at
 * most MAX_BUFFERED_BYTES wait, a reader stalled for STALL_MS loses lines instead of holding the process, and the
 * flush at exit gives up the same way.
 */
export function stdoutLogDestination(): pino.DestinationStream {
  let stalledSince: number | undefined;
  const stream = pino.destination({
    dest: 1,
    sync: false,
    maxLength: MAX_BUFFERED_BYTES,
    retryEAGAIN: () => {
      stalledSince ??= Date.now();
      return Date.now() - stalledSince < STALL_MS;
    },
  });
  stream.on('write', () => (stalledSince = undefined));
  // A write given up on (the reader stalled, or went away): the line is lost, the server goes on.
  stream.on('error', () => {});
  const flushSync = stream.flushSync.bind(stream);
  stream.flushSync = () => {
    try {
      flushSync();
    } catch {
      // The reader stalled past STALL_MS while exiting: what is left is dropped, and the process exits.
    }
  };
  return stream;
}
