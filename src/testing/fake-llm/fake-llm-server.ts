import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeProtocol = 'openai' | 'anthropic';

/** What the fake answers to one request. */
export type FakeReply =
  | {
      readonly kind: 'stream';
      /** The whole `text/event-stream` body, as the real API sends it. */
      readonly body: string;
      /**
       * How the body is cut into writes: `awkward` cuts inside every multi-byte character, in the middle of every
       * line and between the two newlines ending each event; a number cuts every that many bytes. Default: one write.
       */
      readonly split?: 'awkward' | number;
      /** Stop writing (and keep the connection open) once this many bytes are out: a stalled stream. */
      readonly stallAfterBytes?: number;
    }
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly body: unknown;
      readonly headers?: Readonly<Record<string, string>>;
    }
  /** Reads the request and never answers: no status, no headers. */
  | { readonly kind: 'stall' }
  /** Destroys the socket without answering. */
  | { readonly kind: 'hangup' };

interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The JSON body (undefined when it was not JSON). */
  readonly body: unknown;
  /** The client went away before the response ended (a cancel, or a client-side timeout). */
  aborted: boolean;
}

const PATHS: Record<FakeProtocol, string> = { openai: '/v1/chat/completions', anthropic: '/v1/messages' };
/** Gap between split writes, with Nagle off, so the client really reads them one by one. */
const WRITE_GAP_MS = 2;

/**
 * A local stand-in for a hosted model API: a real HTTP server on 127.0.0.1 (port 0) that answers each request with
 * the next scripted reply (SSE streams byte for byte as the real APIs send them, HTTP errors, stalls, hang-ups),
 * and records every request it got, including whether the client aborted it.
 */
export class FakeLlmServer {
  readonly requests: RecordedRequest[] = [];
  readonly #replies: FakeReply[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly protocol: FakeProtocol,
    /** The base URL to configure: `/v1` included for OpenAI, as its SDK expects. */
    readonly url: string,
  ) {}

  static async start(protocol: FakeProtocol): Promise<FakeLlmServer> {
    const started: { fake?: FakeLlmServer } = {};
    const server = createServer((req, res) => void started.fake?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    started.fake = new FakeLlmServer(server, protocol, `http://127.0.0.1:${port}${protocol === 'openai' ? '/v1' : ''}`);
    return started.fake;
  }

  /** Queues replies, answered in order, one per request. With none left a request gets a 400 (never retried). */
  enqueue(...replies: FakeReply[]): this {
    this.#replies.push(...replies);
    return this;
  }

  /** Drops the replies no request used, and says how many there were (a test expecting fewer requests checks 0). */
  clearReplies(): number {
    return this.#replies.splice(0).length;
  }

  /** Resolves once `predicate` holds for the recorded requests (checked on every change). */
  waitFor(predicate: (requests: readonly RecordedRequest[]) => boolean, timeoutMs = 5_000): Promise<void> {
    if (predicate(this.requests)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this.requests)) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(
            `fake ${this.protocol} server: condition not met in ${timeoutMs} ms; requests: ${this.requests.length}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: parseJson(raw),
      aborted: false,
    };
    this.requests.push(recorded);
    res.on('close', () => {
      if (!res.writableFinished) {
        recorded.aborted = true;
        this.#changed();
      }
    });
    this.#changed();
    if (req.method !== 'POST' || req.url?.split('?')[0] !== PATHS[this.protocol]) {
      return void this.#sendError(res, {
        kind: 'error',
        status: 404,
        body: errorBody(this.protocol, 'not_found_error', `fake: no route ${req.method} ${req.url}`),
      });
    }
    const reply = this.#replies.shift() ?? {
      kind: 'error',
      status: 400,
      body: errorBody(this.protocol, 'invalid_request_error', 'fake: no scripted reply left'),
    };
    switch (reply.kind) {
      case 'stall':
        return;
      case 'hangup':
        return void req.socket.destroy();
      case 'error':
        return void this.#sendError(res, reply);
      case 'stream':
        return this.#stream(res, reply);
    }
  }

  #sendError(res: ServerResponse, reply: Extract<FakeReply, { kind: 'error' }>): void {
    const body = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...requestIdHeader(this.protocol),
      ...reply.headers,
    });
    res.end(body);
  }

  async #stream(res: ServerResponse, reply: Extract<FakeReply, { kind: 'stream' }>): Promise<void> {
    res.socket?.setNoDelay(true);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...requestIdHeader(this.protocol),
    });
    let bytes = Buffer.from(reply.body, 'utf8');
    const stall = reply.stallAfterBytes !== undefined;
    if (reply.stallAfterBytes !== undefined) bytes = bytes.subarray(0, reply.stallAfterBytes);
    for (const piece of cut(bytes, reply.split)) {
      if (res.destroyed) return;
      res.write(piece);
      if (reply.split !== undefined) await new Promise((r) => setTimeout(r, WRITE_GAP_MS));
    }
    if (!stall && !res.destroyed) res.end();
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** A base URL where nothing listens: a port that was bound a moment ago and then closed. */
export async function refusingUrl(protocol: FakeProtocol): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}${protocol === 'openai' ? '/v1' : ''}`;
}

/** An error body in the API's own shape. */
export function errorBody(protocol: FakeProtocol, type: string, message: string): unknown {
  return protocol === 'openai'
    ? { error: { message, type, param: null, code: type === 'rate_limit_exceeded' ? 'rate_limit_exceeded' : null } }
    : { type: 'error', error: { type, message }, request_id: 'req_fake' };
}

function requestIdHeader(protocol: FakeProtocol): Record<string, string> {
  return protocol === 'openai' ? { 'x-request-id': 'req_fake' } : { 'request-id': 'req_fake' };
}

/** The byte offsets to cut at, then the pieces. */
function cut(bytes: Buffer, split: 'awkward' | number | undefined): Buffer[] {
  if (split === undefined || bytes.length === 0) return [bytes];
  const offsets = new Set<number>();
  if (typeof split === 'number') {
    for (let at = split; at < bytes.length; at += split) offsets.add(at);
  } else {
    let lineStart = 0;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      // Inside a multi-byte UTF-8 character: a continuation byte (10xxxxxx) is never where a character starts.
      if ((byte & 0xc0) === 0x80) offsets.add(i);
      if (byte === 0x0a) {
        offsets.add(lineStart + Math.floor((i - lineStart) / 2));
        // Between the "\n" that ends a line and the "\n" that ends the event.
        offsets.add(i);
        lineStart = i + 1;
      }
    }
  }
  const sorted = [...offsets].filter((o) => o > 0 && o < bytes.length).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of sorted) {
    pieces.push(bytes.subarray(from, at));
    from = at;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
