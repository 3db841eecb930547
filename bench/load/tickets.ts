/**
 * Mints WebSocket tickets the way a browser does: POST /ws/ticket with the user's access token. Its keep-alive
 * sockets are closed when done, so they do not use up the server's file descriptors (capped at 20,000 per process
 * here) before the WebSockets they are for are opened.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

function post(agent: Agent, port: number, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/ws/ticket',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { ticket?: string };
          if (res.statusCode !== 201 || body.ticket === undefined)
            reject(new Error(`POST /ws/ticket answered ${res.statusCode}`));
          else resolve(body.ticket);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

/** One ticket per entry of `tokens` (a token may repeat), `concurrency` requests in flight; throws on any non-201. */
export async function mintTickets(
  port: number,
  tokens: readonly string[],
  concurrency = 8,
): Promise<{ tickets: string[]; ms: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const t0 = performance.now();
  const tickets: string[] = new Array<string>(tokens.length);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, tokens.length) }, async () => {
        while (next < tokens.length) {
          const i = next++;
          tickets[i] = await post(agent, port, tokens[i]!);
        }
      }),
    );
    return { tickets, ms: performance.now() - t0 };
  } finally {
    agent.destroy();
  }
}
