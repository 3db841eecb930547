/**
 * Child process of bench/abuse.ts: floods the server from N users' connections, reconnecting whenever the server
 * closes one, until SIGTERM. Prints one JSON line per closed connection: {sent, ms, code, reason}.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const [url, ...tokens] = process.argv.slice(2);
let stopping = false;
process.on('SIGTERM', () => (stopping = true));

/** Floods pings on one connection until the server closes it. */
export async function flood(
  wsUrl: string,
  token: string,
): Promise<{ sent: number; ms: number; code: number; reason: string }> {
  const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
  await new Promise((resolve, reject) => ws.once('message', resolve).once('error', reject));
  const t0 = performance.now();
  let sent = 0;
  let open = true;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      open = false;
      resolve({ code, reason: reason.toString() });
    }),
  );
  while (open && performance.now() - t0 < 10_000) {
    for (let i = 0; i < 50 && open; i++, sent++) ws.send('{"type":"ping"}');
    await new Promise((r) => setImmediate(r));
  }
  if (open) ws.terminate();
  const { code, reason } = await closed;
  return { sent, ms: performance.now() - t0, code, reason };
}

if (url !== undefined && tokens.length > 0) {
  await Promise.all(
    tokens.map(async (token) => {
      while (!stopping) console.log(JSON.stringify(await flood(url, token)));
    }),
  );
}
