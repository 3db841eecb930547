import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { builtinTools, OfflineAgent, preloadCalculator, ToolRegistry, type Agent } from '../agents/index.js';
import { AccessTokens, AuthService, loadSigningKeys, PasswordHasher, Tickets } from '../auth/index.js';
import { normalizeOrigin, type Config } from '../config/index.js';
import { Gateway } from '../gateway/index.js';
import { createHttpApp } from '../http/index.js';
import { RunManager } from '../runs/index.js';
import {
  MemoryAttemptLimiter,
  MemoryRevocationBus,
  MemoryTicketStore,
  MemoryUserEventBus,
  openSqlite,
  SqlConversationStore,
  SqlEventLog,
  SqlTokenStore,
  SqlUserStore,
} from '../storage/index.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';

export interface AppOptions {
  readonly logger?: Logger;
  /** Replaces the built-in agent (tests use scripted agents). */
  readonly agent?: Agent;
  readonly now?: () => number;
}

export interface RunningApp {
  readonly config: Config;
  /** http://host:port the server listens on. */
  readonly url: string;
  readonly port: number;
  readonly logger: Logger;
  readonly runs: RunManager;
  readonly gateway: Gateway;
  stop(): Promise<void>;
}

export const DOCS_PATHS = [fileURLToPath(new URL('../../docs/', import.meta.url)), fileURLToPath(new URL('../../README.md', import.meta.url))];

/**
 * The composition root: turns config into concrete backends, wires the domains, listens, and owns shutdown order
 * (stop accepting → close sockets 1001 → stop runs with terminal events → close storage).
 */
export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const logger = options.logger ?? createLogger(config);
  const now = options.now ?? Date.now;

  const db = await openSqlite(config.dataDir);
  const users = new SqlUserStore(db);
  const tokens = new SqlTokenStore(db);
  const conversations = new SqlConversationStore(db);
  const events = new SqlEventLog(db);
  const ticketStore = new MemoryTicketStore();
  const bus = new MemoryUserEventBus();
  const revocations = new MemoryRevocationBus();

  const keys = await loadSigningKeys({ secretKey: config.jwt.secretKey, dataDir: config.dataDir });
  const accessTokens = new AccessTokens({ keys, issuer: config.jwt.issuer, audience: config.jwt.audience, ttlSeconds: config.jwt.accessTtlSeconds });
  const auth = new AuthService({
    users,
    tokens,
    accessTokens,
    passwords: new PasswordHasher(),
    revocations,
    ipLimiter: new MemoryAttemptLimiter({ points: config.rateLimits.loginPerMinute, durationSeconds: 60, keyPrefix: 'ip' }),
    accountLimiter: new MemoryAttemptLimiter({ points: config.rateLimits.loginPerMinute, durationSeconds: 60, keyPrefix: 'account' }),
    refreshLimiter: new MemoryAttemptLimiter({ points: config.rateLimits.refreshPerMinute, durationSeconds: 60, keyPrefix: 'refresh' }),
    refreshTtlSeconds: config.jwt.refreshTtlSeconds,
    accessTtlSeconds: config.jwt.accessTtlSeconds,
    adminEmails: config.adminEmails,
    now,
  });
  const tickets = new Tickets(ticketStore, {
    defaultTtlSeconds: config.ticketTtlSeconds,
    maxTtlSeconds: config.ticketMaxTtlSeconds,
    perUserLimiter: new MemoryAttemptLimiter({ points: config.rateLimits.ticketsPerMinute, durationSeconds: 60, keyPrefix: 'ticket' }),
  });
  const cleanup = setInterval(() => {
    auth.cleanupExpired().then(
      (deleted) => deleted > 0 && logger.info({ deleted }, 'deleted expired refresh tokens'),
      (err: unknown) => logger.warn({ err }, 'expired refresh token cleanup failed'),
    );
  }, 3_600_000);
  cleanup.unref();

  const runs = new RunManager({
    conversations,
    runs: conversations,
    events,
    bus,
    agent: options.agent ?? new OfflineAgent(),
    tools: new ToolRegistry(builtinTools({ docsPaths: DOCS_PATHS })),
    limits: config.runs,
    logger,
    now,
  });
  const interrupted = await runs.recoverInterrupted();
  if (interrupted > 0) logger.warn({ interrupted }, 'marked runs left by a previous process as interrupted');

  let ownOrigins: string[] = [];
  const gateway = new Gateway(
    {
      path: '/ws',
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      maxMessageBytes: config.maxMessageBytes,
      isOriginAllowed: (origin) => (config.allowedOrigins.length > 0 ? config.allowedOrigins : ownOrigins).includes(origin),
    },
    { auth, tickets, runs, bus, revocations, logger, now },
  );

  let publicUrl = config.publicUrl ?? '';
  const metrics = createMetrics({ connections: () => gateway.connectionCount, activeRuns: () => runs.activeCount });
  const http = createHttpApp(
    {
      config,
      auth,
      tickets,
      runs,
      conversations,
      jwks: keys.jwks,
      webSocketUrl: () => `${publicUrl.replace(/^http/, 'ws')}/ws`,
      readiness: { database: async () => void (await sql`select 1`.execute(db)) },
      connectionCount: () => gateway.connectionCount,
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
      now,
    },
    logger,
  );
  http.server.on('upgrade', gateway.handleUpgrade);
  await http.listen({ host: config.host, port: config.port });
  const { port } = http.server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (publicUrl === '') publicUrl = url;
  ownOrigins = ownOriginsOf(publicUrl, port);
  logger.info({ url, publicUrl, dataDir: config.dataDir, signing: keys.alg, demoMode: config.demoMode }, 'agentgate listening');
  // Serving first, then loading the slow calculator library, keeps start-up fast and the first "calculate" quick.
  setImmediate(() => void preloadCalculator().catch((err: unknown) => logger.error({ err }, 'calculator failed to load')));

  let stopping: Promise<void> | undefined;
  return {
    config,
    url,
    port,
    logger,
    runs,
    gateway,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(cleanup);
        await Promise.all([http.close(), gateway.close()]);
        await runs.shutdown();
        ticketStore.close();
        await db.destroy();
        logger.info('agentgate stopped');
      })()),
  };
}

/** The development default for ALLOWED_ORIGINS: this server's own origin, under both loopback names. */
function ownOriginsOf(publicUrl: string, port: number): string[] {
  const origins = new Set<string>();
  const own = normalizeOrigin(publicUrl);
  if (own !== undefined) origins.add(own);
  const host = new URL(publicUrl).hostname;
  if (['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]'].includes(host)) {
    origins.add(`http://localhost:${port}`);
    origins.add(`http://127.0.0.1:${port}`);
  }
  return [...origins];
}
