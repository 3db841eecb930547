import WebSocket from 'ws';
import { isTerminalEvent, textOf, type RunEvent, type ServerMessage } from '../protocol/index.js';

/** A real `ws` client that records every message and lets a test wait for the one it needs. */
export class TestSocket {
  readonly messages: ServerMessage[] = [];
  private waiters: Array<{ match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }> = [];
  closed: { code: number; reason: string } | undefined;
  private closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(textOf(data)) as ServerMessage;
      this.messages.push(msg);
      this.waiters = this.waiters.filter((w) => (w.match(msg) ? (w.resolve(msg), false) : true));
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w(this.closed);
    });
  }

  /** Opens and waits for connection_established; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<TestSocket> {
    const { protocols, ...rest } = options;
    const ws = new WebSocket(url, protocols, rest);
    const socket = new TestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) =>
        reject(
          Object.assign(new Error(`upgrade refused: ${res.statusCode}`), {
            status: res.statusCode,
            headers: res.headers,
          }),
        ),
      );
      ws.once('error', reject);
      socket.next((m) => m.type === 'connection_established', 5_000).then(() => resolve(socket), reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message (already received or future) matching `match`. */
  next(match: (m: ServerMessage) => boolean, timeoutMs = 10_000): Promise<ServerMessage> {
    const seen = this.messages.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return this.waitFor(match, timeoutMs);
  }

  /** The next future message matching `match`. */
  waitFor(match: (m: ServerMessage) => boolean, timeoutMs = 10_000): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for a message; got ${JSON.stringify(this.messages.slice(-5))}`)),
        timeoutMs,
      );
      this.waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }

  /** Waits for the terminal event of a run and returns all its events received so far, in order. */
  async runEvents(runId: string, timeoutMs = 10_000): Promise<RunEvent[]> {
    await this.next((m) => 'seq' in m && m.runId === runId && isTerminalEvent(m), timeoutMs);
    return this.eventsOf(runId);
  }

  eventsOf(runId: string): RunEvent[] {
    return this.messages.filter((m): m is RunEvent => 'seq' in m && m.runId === runId);
  }

  waitClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    if (this.closed !== undefined) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.closeWaiters.push((c) => (clearTimeout(timer), resolve(c)));
    });
  }

  close(): void {
    this.ws.close();
  }
}

export function wsUrl(httpUrl: string, query = ''): string {
  return `${httpUrl.replace(/^http/, 'ws')}/ws${query}`;
}
