import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';
import { stdoutLogDestination } from './log-destination.js';

/** Paths whose values never reach a log line: the request's credentials, wherever headers are logged. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["sec-websocket-protocol"]',
];

/** Keys whose values never reach a log line, in the object logged and in objects in it two levels down. */
const CREDENTIAL_KEYS = new Set([
  'password',
  'accessToken',
  'refreshToken',
  'ticket',
  'token',
  // The model API key (config.llm.apiKey), should a config object ever be logged.
  'apiKey',
]);
const CENSOR = '[redacted]';

/**
 * The object with every CREDENTIAL_KEYS value replaced, copied only where one is found. pino's redact paths that
 * start with `*` do the same but run every value of every line through them: ~6 µs and ~20 KB of garbage per line
 * (@pinojs/redact 0.4 parses each path again on every call), 10% of what a run allocates under load.
 */
export function censorCredentials(object: Record<string, unknown>, depth = 2): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in object) {
    const value = object[key];
    let kept = value;
    if (CREDENTIAL_KEYS.has(key)) kept = value === undefined ? value : CENSOR;
    else if (depth > 0 && isPlainObject(value)) kept = censorCredentials(value, depth - 1);
    if (kept !== value) (copy ??= { ...object })[key] = kept;
  }
  return copy ?? object;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: CENSOR },
    // pino applies `bindings` to the root's own only, not to child() bindings: every child() here binds ids and names.
    formatters: { log: censorCredentials, bindings: censorCredentials },
    base: { service: 'agentgate' },
    serializers: {
      // Fastify hands its request: `ip` is the client's address under TRUST_PROXY (the proxy's without it).
      req: (req: { method?: string; url?: string; id?: unknown; ip?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactQuery(req.url ?? ''),
        remoteAddress: req.ip,
      }),
    },
  };
  return pino(options, destination === undefined ? stdoutLogDestination() : (destination as pino.DestinationStream));
}

const SECRET_PARAMS = new Set([
  'ticket',
  'token',
  'access_token',
  'accesstoken',
  'refresh_token',
  'refreshtoken',
  'id_token',
  'jwt',
  'bearer',
  'authorization',
  'password',
  'secret',
  'client_secret',
  'api_key',
  'apikey',
]);

/**
 * `?ticket=abc` → `?ticket=[redacted]`, and the same for anything that looks like a token parameter. Names are
 * compared decoded (the server reads them decoded: `?%74icket=` is a ticket); an undecodable name is redacted too.
 */
function redactQuery(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const end = url.indexOf('#', start) < 0 ? url.length : url.indexOf('#', start);
  const pairs = url
    .slice(start + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const rawName = pair.slice(0, eq);
      let name: string | undefined;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' ')).trim().toLowerCase();
      } catch {
        name = undefined;
      }
      return name === undefined || SECRET_PARAMS.has(name) ? `${rawName}=[redacted]` : pair;
    });
  return `${url.slice(0, start + 1)}${pairs.join('&')}${url.slice(end)}`;
}
