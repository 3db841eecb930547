import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';

/** Paths whose values never reach a log line: credentials, tokens, tickets. */
export const REDACTED_PATHS = [
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
];

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'agentgate' },
    serializers: {
      req: (req: { method?: string; url?: string; id?: unknown }) => ({ id: req.id, method: req.method, url: redactQuery(req.url ?? '') }),
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination as pino.DestinationStream);
}

/** `?ticket=abc` → `?ticket=[redacted]` (and the same for anything that looks like a token parameter). */
export function redactQuery(url: string): string {
  return url.replace(/([?&](?:ticket|token|access_token|accessToken|refresh_token|jwt)=)[^&#]*/gi, '$1[redacted]');
}
