import { createTestApp } from './src/testing/index.js';
const app = await createTestApp();
async function once(): Promise<string> {
  let i = 0;
  const body = new ReadableStream({ async pull(c) { if (i++ >= 64) return c.close(); await new Promise((r) => setTimeout(r, 1)); c.enqueue(new Uint8Array(65536).fill(120)); } });
  try {
    const res = await fetch(app.url + '/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    await res.text();
    return String(res.status);
  } catch (e) { return 'error ' + String((e as Error & { cause?: { code?: string } }).cause?.code ?? e); }
}
const r: string[] = []; for (let i = 0; i < 10; i++) r.push(await once());
console.log(r.join(' '));
await app.close();
