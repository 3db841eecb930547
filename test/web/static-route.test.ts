import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { ensureWebBuild, WEB_DIST } from './helpers/build.js';

/** The built page as `npm start` serves it: types, caching, security headers, and no shadowed API routes. */
describe('the web page route', () => {
  let app: TestApp;
  let assets: { js: string; css: string };

  beforeAll(async () => {
    await ensureWebBuild();
    app = await createTestApp();
    const html = readFileSync(join(WEB_DIST, 'index.html'), 'utf8');
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const css = /href="(\/assets\/[^"]+\.css)"/.exec(html)?.[1];
    if (js === undefined || css === undefined) throw new Error('the built index.html names no JS or CSS asset');
    assets = { js, css };
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  it('serves index.html at / with a strict CSP, nosniff, no-referrer, no framing and no-store', async () => {
    const res = await fetch(`${app.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([name = '', ...values]) => [name, values]),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'", app.url.replace(/^http/, 'ws')]);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    const html = await res.text();
    // Every script has a src: nothing inline that the CSP would have to allow.
    expect(html.match(/<script\b[^>]*>/g)?.every((tag) => / src="\/assets\//.test(tag))).toBe(true);
    expect(html).not.toMatch(/ on[a-z]+=/i);
  });

  it('serves hashed assets with their content type, gzipped when asked, cached for a year', async () => {
    for (const [path, type] of [
      [assets.js, 'text/javascript; charset=utf-8'],
      [assets.css, 'text/css; charset=utf-8'],
    ] as const) {
      const plain = await fetch(`${app.url}${path}`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('content-type')).toBe(type);
      expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
      expect(plain.headers.get('content-encoding')).toBeNull();
      const original = Buffer.from(await plain.arrayBuffer());
      expect(original.equals(readFileSync(join(WEB_DIST, path)))).toBe(true);

      // fetch() would decode gzip itself: read the raw bytes through node:http instead.
      const raw = await rawGet(`${app.url}${path}`, { 'accept-encoding': 'gzip, deflate' });
      expect(raw.headers['content-encoding']).toBe('gzip');
      expect(raw.headers.vary).toBe('Accept-Encoding');
      expect(gunzipSync(raw.body).equals(original)).toBe(true);
      expect(raw.body.length).toBeLessThan(original.length);
    }
    const icon = await fetch(`${app.url}/favicon.svg`);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
  });

  it('answers HEAD for the page', async () => {
    const res = await fetch(`${app.url}/`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it('leaves API routes alone and unknown paths JSON 404 not_found (never the page)', async () => {
    for (const path of [
      '/nope',
      '/threads/x/y/z',
      '/assets/missing.js',
      '/assets/../package.json',
      '/%2e%2e/package.json',
      '/index.html/',
      '/api/unknown',
      '/t/some-thread',
    ]) {
      const res = await fetch(`${app.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(((await res.json()) as { error: { code: string } }).error.code, path).toBe('not_found');
    }
    const me = await fetch(`${app.url}/auth/me`);
    expect(me.status).toBe(401);
    expect(((await me.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const health = await fetch(`${app.url}/ws/health`);
    expect(((await health.json()) as { preConnectionAuth: boolean }).preConnectionAuth).toBe(true);
    const post = await fetch(`${app.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(post.status).toBe(404);
  });
});

async function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { get } = await import('node:http');
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
