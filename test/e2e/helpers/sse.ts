/** One Server-Sent Event: its `id:` (undefined when it had none) and its `data:` lines joined. */
export interface SseEvent {
  readonly id: string | undefined;
  readonly data: string;
  /** The `event:` name, when the event has one (the stream's own events have none). */
  readonly event?: string;
}

export interface SseOptions {
  readonly method?: 'GET' | 'POST';
  readonly token?: string;
  readonly headers?: Record<string, string>;
  /** JSON-encoded as the request body. */
  readonly body?: unknown;
  /**
   * Checked after each chunk read from the body has been parsed, when it ended on an event boundary: true aborts the
   * fetch there and then (a client cut off mid-stream), before anything more is read.
   */
  readonly cutWhen?: (events: readonly SseEvent[]) => boolean;
  /** Bound on the whole response; past it the fetch is aborted and `ended` rejects. Default 20 s. */
  readonly timeoutMs?: number;
}

/** How a stream ended: the server closed it, or the test cut it (`cutWhen` or `abort`). */
export type SseEnd = 'end' | 'cut';

/** A streaming response read in the background: every event, every comment and the raw text, as they arrive. */
export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  readonly events: SseEvent[];
  /** Comment lines, without the leading colon and space (": keep-alive" gives "keep-alive"). */
  readonly comments: string[];
  /** Everything received, as text. */
  raw(): string;
  /** The first event (already received or future) matching `match`; rejects after `timeoutMs` or when the stream ends without it. */
  next(match: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Settles when the response is over. */
  readonly ended: Promise<SseEnd>;
  abort(): void;
}

/** A non-streaming answer (an error): status, headers and the body as text. */
export interface PlainResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

const open = new Set<AbortController>();

/**
 * Aborts every stream still open. Register it with afterAll after the app's hooks (vitest runs after-hooks in
 * reverse order), so that streams a failed test left behind are gone before the server stops.
 */
export function abortOpenStreams(): void {
  for (const controller of open) controller.abort();
  open.clear();
}

/** Parses complete events out of `buffer`; returns them and the unparsed rest. Comments are reported separately. */
export function parseSse(buffer: string): { events: SseEvent[]; comments: string[]; rest: string } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const normalized = buffer.replace(/\r\n?/g, '\n');
  const blocks = normalized.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let id: string | undefined;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '') continue;
      if (line.startsWith(':')) {
        comments.push(line.slice(1).trimStart());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push({ id, data: data.join('\n'), ...(event === undefined ? {} : { event }) });
  }
  return { events, comments, rest };
}

/**
 * Opens a streaming request. A 200 text/event-stream answer is read in the background (see SseStream); any other
 * answer is read whole and returned as a PlainResponse.
 */
export async function openSse(url: string, options: SseOptions = {}): Promise<SseStream | PlainResponse> {
  const controller = new AbortController();
  open.add(controller);
  const timeoutMs = options.timeoutMs ?? 20_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, {
      method: options.method ?? 'GET',
      headers,
      signal: controller.signal,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch (err) {
    clearTimeout(timer);
    open.delete(controller);
    throw err;
  }
  if (
    res.status !== 200 ||
    !(res.headers.get('content-type') ?? '').startsWith('text/event-stream') ||
    res.body === null
  ) {
    const text = await res.text();
    clearTimeout(timer);
    open.delete(controller);
    return { status: res.status, headers: res.headers, text };
  }

  const events: SseEvent[] = [];
  const comments: string[] = [];
  let raw = '';
  let finished: SseEnd | undefined;
  let cut = false;
  let waiters: Array<{
    match: (e: SseEvent) => boolean;
    resolve: (e: SseEvent) => void;
    reject: (err: Error) => void;
  }> = [];
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();

  const pump = async (): Promise<SseEnd> => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return 'end';
        raw += value;
        buffer += value;
        const parsed = parseSse(buffer);
        buffer = parsed.rest;
        comments.push(...parsed.comments);
        for (const event of parsed.events) {
          events.push(event);
          waiters = waiters.filter((w) => (w.match(event) ? (w.resolve(event), false) : true));
        }
        if (buffer === '' && options.cutWhen?.(events) === true) {
          cut = true;
          controller.abort();
          await reader.cancel().catch(() => {});
          return 'cut';
        }
      }
    } catch (err) {
      if (cut || (controller.signal.aborted && !timedOut)) return 'cut';
      throw timedOut ? new Error(`SSE stream ${url} still open after ${timeoutMs} ms`) : err;
    } finally {
      clearTimeout(timer);
      open.delete(controller);
    }
  };
  const ended = pump().then(
    (how) => {
      finished = how;
      for (const w of waiters)
        w.reject(
          new Error(
            `SSE stream ${how === 'cut' ? 'cut' : 'ended'} before the awaited event; got ${events.length} events`,
          ),
        );
      waiters = [];
      return how;
    },
    (err: unknown) => {
      for (const w of waiters) w.reject(err instanceof Error ? err : new Error(String(err)));
      waiters = [];
      throw err;
    },
  );
  // Callers that never await `ended` must not leave an unhandled rejection behind.
  ended.catch(() => {});

  return {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    raw: () => raw,
    ended,
    abort: () => {
      cut = true;
      controller.abort();
    },
    next(match, waitMs = 10_000) {
      const seen = events.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      if (finished !== undefined)
        return Promise.reject(new Error(`SSE stream already over; got ${events.length} events`));
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for an SSE event; last: ${JSON.stringify(events.slice(-3))}`)),
          waitMs,
        );
        waiters.push({
          match,
          resolve: (e) => (clearTimeout(t), resolve(e)),
          reject: (err) => (clearTimeout(t), reject(err)),
        });
      });
    },
  };
}

/** openSse for a request that must be answered with a stream. */
export async function sse(url: string, options: SseOptions = {}): Promise<SseStream> {
  const res = await openSse(url, options);
  if (!('events' in res)) throw new Error(`expected an event stream from ${url}, got ${res.status}: ${res.text}`);
  return res;
}

/** openSse for a request that must be refused. */
export async function refused(url: string, options: SseOptions = {}): Promise<PlainResponse> {
  const res = await openSse(url, options);
  if ('events' in res) {
    res.abort();
    throw new Error(`expected a refusal from ${url}, got an event stream`);
  }
  return res;
}

/** A stream's whole life, bounded: resolves with how it ended, or rejects after `timeoutMs`. */
export async function endOf(stream: SseStream, timeoutMs = 10_000): Promise<SseEnd> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      stream.ended,
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`SSE stream not over after ${timeoutMs} ms`)), timeoutMs)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each event's data, parsed as JSON. */
export const payloads = <T>(events: readonly SseEvent[]): T[] => events.map((e) => JSON.parse(e.data) as T);

/** Each event's id, as a number. */
export const ids = (events: readonly SseEvent[]): number[] => events.map((e) => Number(e.id));

/** Serialises events back to SSE text (for feeding a recorded stream to a client). */
export const toSseText = (events: readonly SseEvent[]): string =>
  events.map((e) => `${e.id === undefined ? '' : `id: ${e.id}\n`}data: ${e.data}\n\n`).join('');
