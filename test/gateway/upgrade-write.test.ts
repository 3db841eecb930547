import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, registerUser, TestSocket, type TestApp } from '../../src/testing/index.js';

let app: TestApp;
let front: Server;
const writesOf = new Map<string, number>();

// The app's gateway behind a server of the test's own, so each upgraded socket's writes to the OS can be counted
// (a Writable hands each write, or each corked batch, to _write or _writev: the stream implementer's API).
beforeAll(async () => {
  app = await createTestApp({});
  front = createServer();
  front.on('upgrade', (req, socket: Socket, head: Buffer) => {
    const name = req.headers['x-test-name'] as string;
    writesOf.set(name, 0);
    const count = (): void => void writesOf.set(name, writesOf.get(name)! + 1);
    const write = socket._write.bind(socket);
    const writev = socket._writev?.bind(socket);
    socket._write = (...args: Parameters<Socket['_write']>) => (count(), write(...args));
    if (writev !== undefined)
      socket._writev = (...args: Parameters<NonNullable<Socket['_writev']>>) => (count(), writev(...args));
    app.gateway.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  front?.close();
  await app?.close();
});

it('the 101 and connection_established leave in one write', async () => {
  const { accessToken } = await registerUser(app.url, 'one-write');
  const address = front.address() as { port: number };
  for (let i = 0; i < 3; i++) {
    const name = `socket-${i}`;
    const ws = await TestSocket.open(`ws://127.0.0.1:${address.port}/ws`, {
      headers: { authorization: `Bearer ${accessToken}`, 'x-test-name': name },
    });
    // TestSocket.open resolves on connection_established: everything so far went out in one write.
    expect(writesOf.get(name)).toBe(1);
    ws.close();
  }
});
