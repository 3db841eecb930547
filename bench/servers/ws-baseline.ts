/**
 * The floor: a bare `ws` server that does only what agentgate must also do for the comparison workload, and
 * nothing agentgate does beyond it (no auth, no persistence, no routing, no metrics).
 *   bare    one ws.send() per event (one write per frame)
 *   corked  the same sends with the burst wrapped in socket.cork()/uncork() (one write per burst)
 * Each text message is parsed as JSON (agentgate parses its user_message too) and answered with the burst of
 * bench/lib/workload.ts. Run by bench/compare.ts as a child process; answers `stats` over IPC.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { announceReady, serveCommands } from '../lib/child-ipc.js';
import { baselineBurst } from '../lib/workload.js';

const mode = process.argv[2];
if (mode !== 'bare' && mode !== 'corked') throw new Error('usage: ws-baseline.ts bare|corked');

// The same ws options agentgate's gateway uses.
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 65_536 });
const http = createServer((_req, res) => res.writeHead(404).end());
http.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  wss.handleUpgrade(req, socket, head, (ws) => serve(ws, socket as Socket));
});

function serve(ws: WebSocket, socket: Socket): void {
  ws.on('error', () => {});
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return ws.close(1003);
    let request: unknown;
    try {
      request = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    if ((request as { type?: unknown }).type !== 'user_message') return;
    const frames = baselineBurst();
    if (mode === 'corked') socket.cork();
    for (const frame of frames) ws.send(frame);
    if (mode === 'corked') socket.uncork();
  });
}

http.listen(0, '127.0.0.1', () => {
  const { port } = http.address() as AddressInfo;
  serveCommands(
    { connections: () => wss.clients.size },
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        http.close(() => resolve());
      }),
  );
  announceReady({ port, path: '/ws' });
});
