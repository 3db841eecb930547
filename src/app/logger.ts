import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';
import { stdoutLogDestination } from './log-destination.js';

/** Paths whose values never reach a log line: credentials, tokens, tickets. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["sec-websocket-protocol"]',
  '*.password',
  '*.accessToken',
  '*.refreshToken',
  '*.ticket',
  '*.token',
  // The model API key (config.llm.apiKey), should a config object ever be logged.
  '*.apiKey',
  '*.*.apiKey',
];

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
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
