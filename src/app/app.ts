import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';
import type { Logger } from 'pino';
import { builtinTools, type Agent, type Tool } from '../agents/index.js';
import {
  AccessTokens,
  SessionCache,
  AuthService,
  checkSigningKey,
  DependencyGuard,
  ExternalTokens,
  loadSigningKeys,
  OidcSignIn,
  PasswordHasher,
  RelyingParty,
  type LoginCode,
  type PendingSignIn,
  Tickets,
  type TokenStore,
  type UserStore,
} from '../auth/index.js';
import { normalizeOrigin, type Config } from '../config/index.js';
import { WS_PATH } from '../protocol/index.js';
import { Gateway } from '../gateway/index.js';
import { createHttpApp } from '../http/index.js';
import { ApprovalGate, Capacity, OrphanRecovery, RunHistory, RunManager } from '../runs/index.js';
import { openBackends } from './backends.js';
import { createLogger } from './logger.js';
import { chooseAgent } from './agents.js';
import { openTools } from './tools.js';
import type { McpToolbox } from '../mcp/index.js';
import { Retention } from './retention.js';
import { createMetrics } from './metrics.js';
import { clientAddressOf, trustProxyOf } from './client-address.js';
import { ownOriginsOf } from './origins.js';
import { openTracing } from './tracing.js';
import { RunOrigins } from '../telemetry/index.js';

export interface AppOptions {
  readonly logger?: Logger;
  /** Replaces the built-in agent (tests use scripted agents). */
  readonly agent?: Agent;
  /** Replaces the built-in tools (a test server that needs only some, without the calculator's load time). */
  readonly tools?: readonly Tool[];
  readonly now?: () => number;
  /** Wraps the stores auth depends on (fault-injection tests). */
  readonly wrapAuthStores?: (stores: { users: UserStore; tokens: TokenStore }) => {
    users: UserStore;
    tokens: TokenStore;
  };
}

export interface RunningApp {
  readonly config: Config;
  /** http://host:port the server listens on. */
  readonly url: string;
  readonly port: number;
  readonly logger: Logger;
  /** Random per start: names this process among the instances sharing PostgreSQL and Redis. */
  readonly instanceId: string;
  readonly runs: RunManager;
  readonly gateway: Gateway;
  /** Deletes by age now (it also runs at start-up and hourly). */
  readonly retention: Retention;
  /** The MCP servers of MCP_CONFIG, when there are any. */
  readonly mcp: McpToolbox | undefined;
  stop(): Promise<void>;
}

/** How long stopping waits for the last spans to reach OTEL_EXPORTER_OTLP_ENDPOINT. */
const TRACES_FLUSH_MS = 5_000;

/** How long a session found active is trusted without a store read, and how many are remembered (~10 MB at most). */
const SESSION_CACHE_MAX_AGE_MS = 60_000;
const SESSION_CACHE_MAX_ENTRIES = 50_000;

const DOCS_PATHS = [
  fileURLToPath(new URL('../../docs/', import.meta.url)),
  fileURLToPath(new URL('../../README.md', import.meta.url)),
];

/**
 * The composition root: turns config into concrete backends, wires the domains, listens, and owns shutdown order
 * (stop accepting → close sockets 1001 → let runs finish up to the grace period, interrupt the rest → close storage).
 */
export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const logger = options.logger ?? createLogger(config);
  const now = options.now ?? Date.now;
  // Metrics come first (everything reports to them); their gauges read the gateway and runs once those exist.
  const live: { gateway?: Gateway; runs?: RunManager } = {};
  const metrics = createMetrics({
    connections: () => live.gateway?.connectionCount ?? 0,
    activeRuns: () => live.runs?.activeCount ?? 0,
  });
  const { telemetry } = metrics;
  const instanceId = randomUUID();
  // The calculator loads its library on its first call (src/agents/tools/calculator.ts says what that costs).
  const tools = options.tools ?? builtinTools({ docsPaths: DOCS_PATHS });
  // The OpenTelemetry SDK is loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = await openTracing(config.otel, { logger, instanceId });
  const origins = new RunOrigins();
  const backends = await openBackends(config, instanceId, logger);
  const { conversations, events, bus, revocations, perMinute } = backends;
  const authStores = (options.wrapAuthStores ?? ((s) => s))({ users: backends.users, tokens: backends.tokens });

  const keys = await loadSigningKeys({ secretKey: config.jwt.secretKey, dataDir: config.dataDir });
  try {
    await checkSigningKey(backends.signingKeyRegistry, keys, new Date(now()).toISOString());
  } catch (err) {
    await backends.close();
    throw err;
  }
  // One login budget per IP for passwords and OIDC sign-in alike.
  const loginLimiter = perMinute(config.rateLimits.loginPerMinute, 'ip');
  const authGuard = new DependencyGuard('the user and session store', { isRefusal: backends.isStatementRefused });
  // Across instances, a session seen lately is checked from memory that the revocation bus keeps current.
  const sessionCache =
    backends.revocationLink === undefined
      ? undefined
      : new SessionCache({
          revocations,
          link: backends.revocationLink,
          maxAgeMs: SESSION_CACHE_MAX_AGE_MS,
          maxEntries: SESSION_CACHE_MAX_ENTRIES,
          now,
        });
  const auth = new AuthService({
    ...authStores,
    sessionCache,
    accessTokens: new AccessTokens({
      keys,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      ttlSeconds: config.jwt.accessTtlSeconds,
    }),
    passwords: new PasswordHasher(),
    revocations,
    ipLimiter: loginLimiter,
    accountLimiter: perMinute(config.rateLimits.loginPerMinute, 'account'),
    refreshLimiter: perMinute(config.rateLimits.refreshPerMinute, 'refresh'),
    refreshTtlSeconds: config.jwt.refreshTtlSeconds,
    sessionMaxAgeSeconds: config.jwt.sessionMaxAgeSeconds,
    accessTtlSeconds: config.jwt.accessTtlSeconds,
    adminEmails: config.adminEmails,
    guard: authGuard,
    externalTokens: config.externalJwt === undefined ? undefined : new ExternalTokens(config.externalJwt),
    telemetry,
    now,
  });
  const tickets = new Tickets(backends.tickets, {
    defaultTtlSeconds: config.ticketTtlSeconds,
    maxTtlSeconds: config.ticketMaxTtlSeconds,
    perUserLimiter: perMinute(config.rateLimits.ticketsPerMinute, 'ticket'),
  });
  const cleanup = setInterval(() => {
    auth.cleanupExpired().then(
      (deleted) => deleted > 0 && logger.info({ deleted }, 'deleted expired refresh tokens'),
      (err: unknown) => logger.warn({ err }, 'expired refresh token cleanup failed'),
    );
  }, 3_600_000);
  cleanup.unref();

  const chosen = await chooseAgent(config, { usage: backends.usage, logger, now, tracing });
  const appTools = await openTools(config, tools, { logger, now, tracing });
  const agent = options.agent ?? chosen.agent;
  const runs = new RunManager({
    conversations,
    runs: backends.runs,
    events,
    bus,
    runControl: backends.runControl,
    liveness: backends.liveness,
    messageIds: backends.messageIds,
    runStarts: backends.perMinute(config.runs.startsPerMinute, 'run-start'),
    agent,
    tools: appTools.registry,
    approvals: new ApprovalGate({
      store: backends.approvals,
      bus: backends.approvalBus,
      requires: appTools.requiresApproval,
      poll: !backends.liveness.alone,
      timeoutMs: config.approvals.timeoutMs,
      logger,
      now,
    }),
    limits: config.runs,
    capacity: new Capacity({
      maxActiveRuns: config.runs.maxActiveRuns,
      databaseWaitLimitMs: config.runs.databaseQueueWaitMs,
      databaseWaitMs: backends.databaseWaitMs,
    }),
    telemetry,
    tracing,
    origins,
    logger,
    now,
  });
  live.runs = runs;
  const history = new RunHistory({ runs: backends.runs, events });
  const orphans = new OrphanRecovery({ runs: backends.runs, events, bus, liveness: backends.liveness, logger, now });

  const trustProxy = trustProxyOf(config.trustProxy);
  let ownOrigins: readonly string[] = [];
  let publicOrigin: string | undefined = undefined;
  // The page this server serves (PUBLIC_URL's origin) is always allowed: ALLOWED_ORIGINS adds to it.
  const isOriginAllowed = (origin: string): boolean =>
    origin === publicOrigin || (config.allowedOrigins.length > 0 ? config.allowedOrigins : ownOrigins).includes(origin);
  const gateway = new Gateway(
    {
      path: WS_PATH,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      maxMessageBytes: config.maxMessageBytes,
      maxConnectionsPerUser: config.gatewayLimits.maxConnectionsPerUser,
      maxBufferedBytes: config.gatewayLimits.maxBufferedBytes,
      clientAddress: (req) => clientAddressOf(req, trustProxy),
      isOriginAllowed,
      leaseRenewIntervalMs: Math.max(100, Math.floor(config.instanceLeaseMs / 3)),
    },
    {
      auth,
      tickets,
      runs,
      history,
      bus,
      revocations,
      leases: backends.leases,
      handshakeLimiter: perMinute(config.gatewayLimits.handshakesPerMinute, 'handshake'),
      messageLimiter: backends.perConnection({
        perSecond: config.gatewayLimits.messagesPerSecond,
        burst: config.gatewayLimits.messageBurst,
      }),
      telemetry,
      logger,
      now,
    },
  );

  live.gateway = gateway;
  let publicUrl = config.publicUrl ?? '';
  const http = createHttpApp(
    {
      config,
      isOriginAllowed,
      trustProxy,
      auth,
      tickets,
      runs,
      history,
      admitStream: (principal, end) => gateway.admitStream(principal, end),
      bus,
      conversations,
      // An AG-UI agent verifies its tokens with this set too: it carries that key, even with HS256 access tokens.
      jwks: { keys: [...keys.jwks.keys, ...uniqueByKid([...chosen.publicKeys, ...appTools.publicKeys])] },
      webSocketUrl: () => `${publicUrl.replace(/^http/, 'ws')}${WS_PATH}`,
      publicUrl: () => publicUrl,
      oidc:
        config.oidc === undefined
          ? undefined
          : {
              displayName: config.oidc.displayName,
              signIn: new OidcSignIn({
                relyingParty: new RelyingParty(config.oidc),
                pending: backends.oneTime<PendingSignIn>('oidc-sign-in'),
                codes: backends.oneTime<LoginCode>('oidc-login-code'),
                auth,
                ipLimiter: loginLimiter,
                redirectUri: () => `${publicUrl}/auth/oidc/callback`,
                now,
              }),
            },
      readiness: {
        ...backends.readiness,
        // A real store call through the circuit breaker: while the circuit is open this fails fast, and once it
        // may half-open this is its trial, so an instance that gets no traffic (a load balancer has taken it out
        // for being unready) still heals.
        auth: () => auth.checkStores(),
      },
      // MCP servers are named but never make the instance unready: a run without one tool is still a run.
      informational: () => appTools.mcp?.health() ?? {},
      connectionCount: () => gateway.connectionCount,
      metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      telemetry,
      tracing,
      origins,
      now,
    },
    logger,
  );
  http.server.on('upgrade', gateway.handleUpgrade);
  await http.listen({ host: config.host, port: config.port }).catch(async (err: unknown) => {
    // Not serving: the MCP server processes started for it must not outlive this start.
    await appTools.mcp?.close();
    await tracing.shutdown(TRACES_FLUSH_MS);
    throw err;
  });
  const { port } = http.server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (publicUrl === '') publicUrl = url;
  ownOrigins = ownOriginsOf(publicUrl, port);
  publicOrigin = normalizeOrigin(publicUrl);
  logger.info(
    {
      url,
      publicUrl,
      instanceId,
      agent: agent.name,
      storage: config.database ? 'postgres' : 'sqlite',
      shared: config.redis ? 'redis' : 'memory',
      signing: keys.alg,
      demoMode: config.demoMode,
    },
    'agentgate listening',
  );
  // Only now does this process own the data and serve: a start that fails (a port in use) has touched no run.
  const interrupted = await orphans.recover();
  if (interrupted > 0) logger.warn({ interrupted }, 'marked runs left by a stopped instance as interrupted');
  // Twice a lease: a crashed peer is declared dead once its key has stayed missing a full lease (RedisInstanceLiveness).
  orphans.start(Math.max(500, Math.floor(config.instanceLeaseMs / 2)));
  const retention = new Retention({ config, conversations, auth, logger, now });
  retention.start();
  if (config.database !== undefined && config.redis === undefined) {
    logger.warn(
      "DATABASE_URL without REDIS_URL: run exactly one instance (without Redis, instances cannot see each other and would end each other's runs).",
    );
  }

  let stopping: Promise<void> | undefined;
  return {
    config,
    url,
    port,
    logger,
    instanceId,
    runs,
    gateway,
    retention,
    mcp: appTools.mcp,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(cleanup);
        sessionCache?.close();
        retention.stop();
        await Promise.all([http.close(), gateway.close()]);
        orphans.stop();
        await runs.shutdown(config.shutdownGraceMs);
        await appTools.mcp?.close();
        await backends.close();
        // Last: the runs' spans end as they do.
        await tracing.shutdown(TRACES_FLUSH_MS);
        logger.info('agentgate stopped');
      })()),
  };
}

/** The agent and MCP forwardIdentity share a key when both sign: the JWKS lists it once. */
function uniqueByKid(keys: readonly JWK[]): JWK[] {
  const seen = new Set<string | undefined>();
  return keys.filter((k) => !seen.has(k.kid) && (seen.add(k.kid), true));
}
