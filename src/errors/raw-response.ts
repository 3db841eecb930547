import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from './codes.js';

/**
 * Writes a complete `{error:{code,message}}` HTTP response straight to a socket and closes it: for requests that
 * never reach the router (refused WebSocket upgrades, requests node's HTTP parser rejected).
 */
export function writeRawError(
  socket: Duplex,
  status: number,
  error: { code: ErrorCode; message: string },
  extraHeaders: Record<string, string> = {},
): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error });
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    ...extraHeaders,
  };
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
