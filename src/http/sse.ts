import type { ServerResponse } from 'node:http';
import { SlowReaderWatch } from '../shared/index.js';

export interface SseOptions {
  /** A comment line this often keeps proxies from cutting a quiet stream. */
  readonly keepAliveMs: number;
  /** Unsent bytes allowed, as for a WebSocket (MAX_BUFFERED_BYTES): see SlowReaderWatch. */
  readonly maxBufferedBytes: number;
  /** Headers decided before the stream took the response over (CORS). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A text/event-stream answer written straight to the response (the route has hijacked it). Each `send` is one write,
 * so the events of one seq reach the reader together. A reader that stays behind is cut off like a slow socket.
 */
export class SseResponse {
  private readonly keepAlive: NodeJS.Timeout;
  private readonly slowReader: SlowReaderWatch;
  private finished = false;

  constructor(
    private readonly raw: ServerResponse,
    options: SseOptions,
    onClose: () => void,
  ) {
    raw.writeHead(200, {
      ...options.headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx buffers responses unless told not to.
      'x-accel-buffering': 'no',
    });
    this.slowReader = new SlowReaderWatch(
      () => raw.writableLength,
      options.maxBufferedBytes,
      () => raw.destroy(),
    );
    raw.write(': stream open\n\n');
    this.keepAlive = setInterval(() => this.write(': keep-alive\n\n'), options.keepAliveMs);
    this.keepAlive.unref();
    raw.on('close', () => {
      this.stopTimers();
      this.finished = true;
      onClose();
    });
  }

  /** Events sharing one SSE id (our seq): several AG-UI events can stand for one run event. */
  send(id: number, events: readonly unknown[]): void {
    if (events.length === 0) return;
    this.write(events.map((e) => `id: ${id}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
  }

  /** Writes a last notice (an event or a comment, already framed), then ends. */
  endWith(notice: string): void {
    this.write(notice);
    this.end();
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimers();
    this.raw.end();
  }

  private write(chunk: string): void {
    if (this.finished || this.raw.destroyed) return;
    this.raw.write(chunk);
    this.slowReader.wrote();
  }

  private stopTimers(): void {
    clearInterval(this.keepAlive);
    this.slowReader.stop();
  }
}
