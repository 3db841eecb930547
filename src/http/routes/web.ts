import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/index.js';
import type { HttpDeps } from '../context.js';

/**
 * Where `npm run build` writes the page (vite, web/vite.config.ts). This file sits three folders deep both as
 * src/http/routes/web.ts (tsx, vitest) and as dist/http/routes/web.js (npm start), so one relative path finds it.
 */
const WEB_ROOT = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.webmanifest', '.txt']);
/** Vite puts a content hash in every file name under assets/: those never change, so browsers may keep them. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

interface StaticFile {
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly contentType: string;
  readonly cacheControl: string;
}

/**
 * Serves the built chat page: `/` and each file of the build, loaded into memory once at start-up (the page is a
 * few files and a few tens of kilobytes). Only those exact paths are routes, so API routes are never shadowed and
 * unknown paths still get the JSON 404. The page keeps its own state in the URL fragment, so it needs no
 * catch-all route.
 */
export function webRoutes(app: FastifyInstance, deps: HttpDeps, root = WEB_ROOT): void {
  const files = loadBuild(root);
  const index = files.get('index.html');
  if (index === undefined) {
    app.log.warn({ root }, 'the web page is not built (run npm run build): / answers 404');
    app.get('/', async () => {
      throw new AppError('not_found', 'The web page is not built: run `npm run build`.');
    });
    return;
  }
  const securityHeaders = (reply: FastifyReply): void => {
    void reply.headers({
      'Content-Security-Policy': contentSecurityPolicy(deps.webSocketUrl()),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
    });
  };
  const send = (file: StaticFile) => async (request: FastifyRequest, reply: FastifyReply) => {
    securityHeaders(reply);
    void reply.header('Content-Type', file.contentType).header('Cache-Control', file.cacheControl);
    if (file.gzipped === undefined) return reply.send(file.body);
    void reply.header('Vary', 'Accept-Encoding');
    if (!acceptsGzip(request.headers['accept-encoding'])) return reply.send(file.body);
    return reply.header('Content-Encoding', 'gzip').send(file.gzipped);
  };

  app.get('/', send(index));
  for (const [path, file] of files) {
    if (path !== 'index.html') app.get(`/${path}`, send(file));
  }
}

/** `connect-src` names the WebSocket origin clients are told to dial (it differs from the page's behind a proxy). */
function contentSecurityPolicy(webSocketUrl: string): string {
  let socketOrigin = '';
  try {
    socketOrigin = ` ${new URL(webSocketUrl).origin}`;
  } catch {
    // No public URL yet (before listen): 'self' alone.
  }
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    `connect-src 'self'${socketOrigin}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function loadBuild(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(join(root, 'index.html'))) return files;
  for (const absolute of walk(root)) {
    const path = relative(root, absolute).split(sep).join('/');
    const extension = extname(path);
    const contentType = CONTENT_TYPES[extension];
    // Source maps and anything unexpected stay unserved.
    if (contentType === undefined || !/^[\w./-]+$/.test(path)) continue;
    const body = readFileSync(absolute);
    const gzipped = COMPRESSIBLE.has(extension) ? gzipSync(body, { level: 9 }) : undefined;
    files.set(path, {
      body,
      gzipped: gzipped !== undefined && gzipped.length < body.length ? gzipped : undefined,
      contentType,
      cacheControl: path === 'index.html' ? 'no-store' : path.startsWith('assets/') ? IMMUTABLE : 'no-cache',
    });
  }
  return files;
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip' && coding?.trim() !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
