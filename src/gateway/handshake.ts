import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { httpStatusOf, writeRawError, type AppError, type ErrorCode } from '../errors/index.js';

/** A refused upgrade: answered with plain HTTP, no WebSocket is ever created. */
export class HandshakeRefusal extends Error {
  override readonly name = 'HandshakeRefusal';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  static from(err: AppError): HandshakeRefusal {
    const headers: Record<string, string> =
      err.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(err.retryAfterSeconds) };
    // Every credential failure is a plain 401 at the handshake, whatever its finer code.
    return new HandshakeRefusal(httpStatusOf(err.code), err.code, err.message, headers);
  }
}

const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;
/** An HTTP token (RFC 9110 section 5.6.2): what each Sec-WebSocket-Protocol entry must be. */
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** RFC 6455 section 4.2.1 checks, done before authentication so a malformed request never costs a token check. */
export function checkHandshake(req: IncomingMessage): void {
  const bad = (message: string): HandshakeRefusal => new HandshakeRefusal(400, 'invalid_request', message);
  if (req.method !== 'GET') throw bad('A WebSocket handshake must be a GET request.');
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) throw bad('A WebSocket handshake needs HTTP/1.1.');
  if ((req.headers.host ?? '').trim() === '') throw bad('The Host header is missing.');
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') throw bad('The Upgrade header must be "websocket".');
  const connection = (req.headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim());
  if (!connection.includes('upgrade')) throw bad('The Connection header must include "Upgrade".');
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !KEY_PATTERN.test(key.trim())) throw bad('Sec-WebSocket-Key is missing or invalid.');
  const version = req.headers['sec-websocket-version'];
  if (version === undefined) throw bad('Sec-WebSocket-Version is missing.');
  if (version.trim() !== '13') {
    throw new HandshakeRefusal(426, 'invalid_request', 'Only WebSocket version 13 is supported.', {
      'Sec-WebSocket-Version': '13',
    });
  }
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    const entries = protocols.split(',').map((p) => p.trim());
    if (entries.some((p) => !TOKEN_PATTERN.test(p)) || new Set(entries).size !== entries.length) {
      throw bad('Sec-WebSocket-Protocol must be a list of distinct tokens.');
    }
  }
}

/** Writes the refusal as a complete HTTP response and closes the socket. */
export function writeRefusal(socket: Duplex, refusal: HandshakeRefusal): void {
  writeRawError(socket, refusal.status, { code: refusal.code, message: refusal.message }, refusal.headers);
}
