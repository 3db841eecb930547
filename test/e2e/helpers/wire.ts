import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { expect } from 'vitest';
import { TestSocket, type TestApp } from '../../../src/testing/index.js';

export type Upgrade = {
  status: number;
  headers: IncomingHttpHeaders;
  code: string | undefined;
  socket: Duplex | undefined;
};

/**
 * One raw upgrade attempt at the app's /ws (or at a ws:// URL such as a ticket's): 101 with the socket, or the
 * refusal's status, headers and error code. Bounded.
 */
export function upgrade(target: TestApp | string, headers: Record<string, string>): Promise<Upgrade> {
  const url = typeof target === 'string' ? target.replace(/^ws/, 'http') : `${target.url}/ws`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    const timer = setTimeout(() => (req.destroy(), reject(new Error('upgrade attempt timed out'))), 5_000);
    req.on('upgrade', (res, socket) => {
      clearTimeout(timer);
      socket.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, headers: res.headers, code: undefined, socket });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, code, socket: undefined });
      });
    });
    req.on('error', (err) => (clearTimeout(timer), reject(err)));
    req.end();
  });
}

/** A client frame, masked as RFC 6455 5.3 requires (unless `masked` is false); `rsv` sets the RSV1-3 bits. */
export function frame(opcode: number, payload: Buffer | string, { fin = true, rsv = 0, masked = true } = {}): Buffer {
  const data = Buffer.from(payload);
  const len = data.length;
  const head = len < 126 ? Buffer.from([0, len]) : len < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126 && len < 65_536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else if (len >= 65_536) {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!masked) return Buffer.concat([head, data]);
  head[1] = (head[1] ?? 0) | 0x80;
  const mask = randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = (data[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([head, mask, body]);
}

/** The HTTP status of a refused upgrade; fails the test when the upgrade succeeds. */
export async function refusedStatus(url: string, options: Parameters<typeof TestSocket.open>[1] = {}): Promise<number> {
  const outcome = await TestSocket.open(url, options).then(
    (ws) => (ws.close(), 'opened'),
    (err: { status?: number }) => err.status ?? 'no status',
  );
  expect(outcome, 'the upgrade must be refused with an HTTP status').toEqual(expect.any(Number));
  return outcome as number;
}
