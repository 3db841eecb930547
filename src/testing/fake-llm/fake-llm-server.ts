import type { Server, ServerResponse } from 'node:http';
import {
  listenOnFreePort,
  ScriptedHttpServer,
  sendJson,
  sleep,
  startEventStream,
  type Exchange,
} from '../scripted-http-server.js';

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

const PATHS: Record<FakeProtocol, string> = { openai: '/v1/chat/completions', anthropic: '/v1/messages' };
/** Gap between split writes, with Nagle off, so the client really reads them one by one. */
const WRITE_GAP_MS = 2;

/**
 * A local stand-in for a hosted model API: a real HTTP server on 127.0.0.1 (port 0) that answers each request with
 * the next scripted reply (SSE streams byte for byte as the real APIs send them, HTTP errors, stalls, hang-ups),
 * and records every request it got, including whether the client aborted it. With no scripted reply left a request
 * gets a 400 (never retried); a request off the API's one route gets a 404.
 */
export class FakeLlmServer extends ScriptedHttpServer<FakeReply> {
  private constructor(
    server: Server,
    readonly protocol: FakeProtocol,
    /** The base URL to configure: `/v1` included for OpenAI, as its SDK expects. */
    readonly url: string,
  ) {
    super(server, { name: `fake ${protocol} server`, ownClosesAreAborts: true });
  }

  static async start(protocol: FakeProtocol): Promise<FakeLlmServer> {
    const { server, origin } = await listenOnFreePort();
    return new FakeLlmServer(server, protocol, baseUrl(origin, protocol));
  }

  protected answer({ req, res, hangUp }: Exchange): Promise<void> | void {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== PATHS[this.protocol]) {
      return this.#sendError(res, {
        kind: 'error',
        status: 404,
        body: errorBody(this.protocol, 'not_found_error', `fake: no route ${req.method} ${req.url}`),
      });
    }
    const reply = this.takeReply() ?? {
      kind: 'error',
      status: 400,
      body: errorBody(this.protocol, 'invalid_request_error', 'fake: no scripted reply left'),
    };
    switch (reply.kind) {
      case 'stall':
        return;
      case 'hangup':
        return hangUp();
      case 'error':
        return this.#sendError(res, reply);
      case 'stream':
        return this.#stream(res, reply);
    }
  }

  #sendError(res: ServerResponse, reply: Extract<FakeReply, { kind: 'error' }>): void {
    sendJson(res, reply.status, reply.body, { ...requestIdHeader(this.protocol), ...reply.headers });
  }

  async #stream(res: ServerResponse, reply: Extract<FakeReply, { kind: 'stream' }>): Promise<void> {
    startEventStream(res, 'text/event-stream; charset=utf-8', requestIdHeader(this.protocol));
    let bytes = Buffer.from(reply.body, 'utf8');
    const stall = reply.stallAfterBytes !== undefined;
    if (reply.stallAfterBytes !== undefined) bytes = bytes.subarray(0, reply.stallAfterBytes);
    for (const piece of cut(bytes, reply.split)) {
      if (res.destroyed) return;
      res.write(piece);
      if (reply.split !== undefined) await sleep(WRITE_GAP_MS);
    }
    if (!stall && !res.destroyed) res.end();
  }
}

/** A base URL where nothing listens: a port that was bound a moment ago and then closed. */
export async function refusingUrl(protocol: FakeProtocol): Promise<string> {
  const { server, origin } = await listenOnFreePort();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return baseUrl(origin, protocol);
}

function baseUrl(origin: string, protocol: FakeProtocol): string {
  return `${origin}${protocol === 'openai' ? '/v1' : ''}`;
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
