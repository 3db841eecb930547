import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a fake got. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The JSON body (undefined when it was not JSON). */
  readonly body: unknown;
  /** The client went away before the response ended (a cancel, or a client-side timeout). */
  aborted: boolean;
  /** When `aborted` became true (Date.now()). */
  abortedAt?: number;
}

/** One request being answered, already recorded. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly recorded: RecordedRequest;
  /** Aborts when the request is recorded as aborted. */
  readonly clientGone: AbortSignal;
  /** Destroys the socket without answering; the fake's doing, so no client abort (unless `ownClosesAreAborts`). */
  hangUp(): void;
}

export interface ScriptedHttpServerOptions {
  /** Starts every error message, e.g. `fake AG-UI agent`. */
  readonly name: string;
  /**
   * Also record the fake's own hang-ups and `close()` as client aborts: FakeLlmServer's record always did, and keeps
   * doing so.
   */
  readonly ownClosesAreAborts?: boolean;
}

export const DEFAULT_WAIT_MS = 5_000;

/**
 * What every local fake server shares: it answers on a server already listening (see `listenOnFreePort`), records
 * every request with whether the client aborted it, hands out scripted replies in order, lets a test wait for a
 * condition on the record, and closes. A subclass says how a request is answered.
 */
export abstract class ScriptedHttpServer<Reply> {
  readonly requests: RecordedRequest[] = [];
  readonly #replies: Reply[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #server: Server;
  readonly #options: ScriptedHttpServerOptions;
  #closing = false;

  protected constructor(server: Server, options: ScriptedHttpServerOptions) {
    this.#server = server;
    this.#options = options;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res));
  }

  /** Queues replies, answered in order, one per request (what a request gets with none left: see the fake). */
  enqueue(...replies: Reply[]): this {
    this.#replies.push(...replies);
    return this;
  }

  /** Drops the replies no request used, and says how many there were (a test expecting fewer requests checks 0). */
  clearReplies(): number {
    return this.#replies.splice(0).length;
  }

  /** Resolves once `predicate` holds for the recorded requests (checked on every change); rejects on timeout. */
  waitFor(predicate: (requests: readonly RecordedRequest[]) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
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
          new Error(`${this.#options.name}: condition not met in ${timeoutMs} ms; requests: ${this.requests.length}`),
        );
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    // Cutting open streams here is the fake's doing, not the client's: unless ownClosesAreAborts, no client abort.
    this.#closing = true;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Answers one request; it is recorded (and waiters told) before this runs. */
  protected abstract answer(exchange: Exchange): Promise<void> | void;

  /** The next scripted reply, or undefined when none is left. */
  protected takeReply(): Reply | undefined {
    return this.#replies.shift();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: parseJson(raw),
      aborted: false,
    };
    this.requests.push(recorded);
    const clientGone = new AbortController();
    let hungUp = false;
    res.on('close', () => {
      if (res.writableFinished) return;
      if (!this.#options.ownClosesAreAborts && (hungUp || this.#closing)) return;
      recorded.aborted = true;
      recorded.abortedAt = Date.now();
      clientGone.abort();
      this.#changed();
    });
    this.#changed();
    const hangUp = (): void => {
      hungUp = true;
      req.socket.destroy();
    };
    await this.answer({ req, res, recorded, clientGone: clientGone.signal, hangUp });
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** A server listening on 127.0.0.1, on a port the system picked; it answers nothing until a fake takes it. */
export async function listenOnFreePort(): Promise<{ server: Server; origin: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}` };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Sends the 200 head of an event stream. */
export function startEventStream(res: ServerResponse, contentType: string, headers: OutgoingHttpHeaders = {}): void {
  // Nagle off, so a client really gets spaced-out writes one by one.
  res.socket?.setNoDelay(true);
  res.writeHead(200, {
    'content-type': contentType,
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...headers,
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The whole body, or what arrived of it when the request broke off. */
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
