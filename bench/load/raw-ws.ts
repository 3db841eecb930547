/**
 * A minimal WebSocket client for load generation: the upgrade written by hand on a raw TCP socket, server frames
 * parsed by their headers only (payloads are handed over as views, never copied or decoded), client frames masked
 * as RFC 6455 requires. It does a fraction of the work of a full client, so one generator process can drive a
 * server that delivers hundreds of thousands of events per second; generators still report their CPU so a run
 * can tell when the client, not the server, was the bottleneck. Loopback (127.0.0.1) only.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export type Credential =
  | { readonly kind: 'none' }
  | { readonly kind: 'ticket'; readonly ticket: string }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'subprotocol'; readonly token: string };

export interface OpenOptions {
  readonly port: number;
  readonly path: string;
  readonly credential: Credential;
  /** Resolve only once the first text frame (agentgate's connection_established) has arrived. */
  readonly waitFirstFrame: boolean;
  readonly timeoutMs: number;
}

/** The server answered the upgrade with something other than 101 (or closed before answering: status 0). */
export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused: ${status}`);
  }
}

const HEADER_END = Buffer.from('\r\n\r\n');
const OP_TEXT = 1;
const OP_CLOSE = 8;
const OP_PING = 9;

function upgradeRequest(port: number, path: string, credential: Credential): string {
  const query = credential.kind === 'ticket' ? `?ticket=${encodeURIComponent(credential.ticket)}` : '';
  const lines = [
    `GET ${path}${query} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (credential.kind === 'bearer') lines.push(`Authorization: Bearer ${credential.token}`);
  if (credential.kind === 'subprotocol') lines.push(`Sec-WebSocket-Protocol: agentgate.v1, bearer.${credential.token}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export class RawWs {
  /** Called for every complete text frame with a view of its payload (valid only during the call). */
  onText: (payload: Buffer) => void = () => {};
  onClose: () => void = () => {};
  closeCode: number | undefined;
  closeReason = '';
  closed = false;
  private rest: Buffer | undefined;
  private readonly mask = randomBytes(4);

  private constructor(readonly socket: Socket) {
    socket.on('close', () => {
      this.closed = true;
      this.onClose();
    });
  }

  /** Opens a socket and completes the upgrade; rejects with UpgradeRefused for any other answer. */
  static open(options: OpenOptions): Promise<RawWs> {
    return new Promise<RawWs>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: options.port });
      socket.setNoDelay(true);
      let head: Buffer = Buffer.alloc(0);
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new Error(`upgrade timed out after ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      socket.on('error', fail);
      socket.on('close', () => fail(new UpgradeRefused(0)));
      const onHead = (chunk: Buffer): void => {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf(HEADER_END);
        if (end < 0) return;
        socket.off('data', onHead);
        const status = Number(head.subarray(9, 12).toString('latin1'));
        if (status !== 101) return fail(new UpgradeRefused(status));
        const ws = new RawWs(socket);
        socket.removeListener('error', fail);
        socket.on('error', () => {});
        const done = (): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(ws);
        };
        if (options.waitFirstFrame) ws.onText = () => done();
        else done();
        socket.on('data', (data: Buffer) => ws.receive(data));
        if (end + 4 < head.length) ws.receive(head.subarray(end + 4));
      };
      socket.on('data', onHead);
      socket.write(upgradeRequest(options.port, options.path, options.credential));
    });
  }

  /** Sends one masked text frame. */
  send(text: string): void {
    this.sendFrame(OP_TEXT, Buffer.from(text, 'utf8'));
  }

  /** Sends a close frame and ends our side. */
  close(code = 1000): void {
    if (this.closed) return;
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code);
    this.sendFrame(OP_CLOSE, body);
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    const len = payload.length;
    const head = len < 126 ? 2 : len < 65_536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(head + 4 + len);
    frame[0] = 0x80 | opcode;
    if (len < 126) frame[1] = 0x80 | len;
    else if (len < 65_536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(len, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(len), 2);
    }
    this.mask.copy(frame, head);
    for (let i = 0; i < len; i++) frame[head + 4 + i] = payload[i]! ^ this.mask[i & 3]!;
    this.socket.write(frame);
  }

  /** Splits the stream into frames by their headers (server frames are unmasked and, from ws, never fragmented). */
  private receive(chunk: Buffer): void {
    const buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    let off = 0;
    while (buf.length - off >= 2) {
      const opcode = buf[off]! & 0x0f;
      let len = buf[off + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (buf.length - off < 10) break;
        len = Number(buf.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (buf.length - off < head + len) break;
      const payload = buf.subarray(off + head, off + head + len);
      off += head + len;
      if (opcode === OP_TEXT) this.onText(payload);
      else if (opcode === OP_PING) this.sendFrame(0x0a, payload);
      else if (opcode === OP_CLOSE) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closeReason = payload.subarray(2).toString('utf8');
        this.socket.end();
      }
    }
    this.rest = off < buf.length ? buf.subarray(off) : undefined;
  }
}
