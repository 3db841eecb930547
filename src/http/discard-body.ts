import type { IncomingMessage } from 'node:http';

/** The most of a refused body read (and thrown away) so that its sender sees the answer. */
const MAX_DISCARDED_BYTES = 16 * 1024 * 1024;
const MAX_DISCARD_MS = 10_000;

/**
 * Reads and throws away what is left of a request body the server refused (413), up to a bound. Answering while
 * the client still sends makes the server close a socket with unread data: the kernel resets the connection, and a
 * client that writes its whole body before reading (fetch, browsers) sees a network error (EPIPE) instead of
 * the 413. A body announced beyond the bound, or one still coming after it, is answered at once as before.
 */
export function discardRestOfBody(req: IncomingMessage): Promise<void> {
  const announced = Number(req.headers['content-length']);
  if (req.complete || req.destroyed || announced > MAX_DISCARDED_BYTES) return Promise.resolve();
  return new Promise((resolve) => {
    let read = 0;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', done).off('close', done).off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      read += chunk.length;
      if (read > MAX_DISCARDED_BYTES) done();
    };
    const timer = setTimeout(done, MAX_DISCARD_MS);
    req.on('data', onData).on('end', done).on('close', done).on('error', done);
    req.resume();
  });
}
