import { createPrivateKey } from 'node:crypto';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { LEGACY_SECRET_ALIASES, SETTINGS, type SettingName } from './schema.js';
import { readMcpFile, type McpServerConfig } from './mcp-file.js';

type Raw = { [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']> };

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly publicUrl: string | undefined;
  /** Proxies trusted to name the client (X-Forwarded-For): false, a hop count, or addresses/CIDRs. */
  readonly trustProxy: false | number | readonly string[];
  readonly jwt: {
    readonly secretKey: string | undefined;
    readonly issuer: string;
    readonly audience: string;
    readonly accessTtlSeconds: number;
    readonly refreshTtlSeconds: number;
    readonly sessionMaxAgeSeconds: number;
  };
  readonly ticketTtlSeconds: number;
  readonly ticketMaxTtlSeconds: number;
  readonly demoMode: boolean;
  /** Empty means "the server's own origin" (development only). */
  readonly allowedOrigins: readonly string[];
  readonly adminEmails: readonly string[];
  readonly logLevel: Raw['LOG_LEVEL'];
  readonly heartbeatIntervalMs: number;
  readonly gatewayLimits: {
    readonly maxConnectionsPerUser: number;
    readonly messagesPerSecond: number;
    readonly messageBurst: number;
    readonly handshakesPerMinute: number;
    readonly maxBufferedBytes: number;
  };
  readonly shutdownGraceMs: number;
  readonly sseKeepAliveMs: number;
  readonly maxMessageBytes: number;
  readonly httpBodyLimitBytes: number;
  readonly runs: {
    readonly maxPerUser: number;
    /** Runs in progress on this instance past which new ones are refused (`overloaded`). */
    readonly maxActiveRuns: number;
    /** How long a statement may have waited for a PostgreSQL connection before new runs are refused (`overloaded`). */
    readonly databaseQueueWaitMs: number;
    readonly maxDurationMs: number;
    readonly maxToolCalls: number;
    readonly startsPerMinute: number;
    readonly maxThreadsPerUser: number;
    readonly maxMessagesPerThread: number;
    readonly historyMessages: number;
    readonly historyChars: number;
  };
  readonly rateLimits: {
    readonly loginPerMinute: number;
    readonly refreshPerMinute: number;
    readonly ticketsPerMinute: number;
  };
  /** PostgreSQL for durable data; undefined means SQLite under dataDir. */
  readonly database: { readonly url: string; readonly poolSize: number } | undefined;
  /** Redis for ephemeral shared state; undefined means in memory (one instance). */
  readonly redis: { readonly url: string; readonly keyPrefix: string } | undefined;
  readonly instanceLeaseMs: number;
  /** The agent: the offline one, or a language model behind an API (LLM_* settings). */
  readonly llm: {
    readonly provider: Raw['LLM_PROVIDER'];
    readonly baseUrl: string | undefined;
    /** Secret: only the provider's SDK gets it. */
    readonly apiKey: string | undefined;
    readonly model: string | undefined;
    readonly systemPrompt: string | undefined;
    readonly maxSteps: number;
    readonly maxOutputTokens: number;
    readonly thinkingBudgetTokens: number;
    readonly timeoutMs: number;
    readonly maxRetries: number;
    readonly tokenBudget: { readonly perUser: number; readonly windowHours: number };
  };
  /** What is deleted by age: idle threads (0 days: never) and demo users. */
  readonly retention: { readonly threadDays: number; readonly demoUserHours: number };
  /** MCP servers (MCP_CONFIG) and how their tools are called. */
  readonly mcp: {
    readonly servers: readonly McpServerConfig[];
    readonly toolTimeoutMs: number;
    readonly userIdleMs: number;
    readonly maxProcesses: number;
  };
  /** Secret: the PKCS#8 PEM that signs agent tokens (AG-UI agents, MCP forwardIdentity); undefined: kept in DATA_DIR. */
  readonly agentSigningKeyPem: string | undefined;
  /** Sign-in with an OpenID Connect provider; undefined when OIDC_ISSUER is unset. */
  readonly oidc:
    | {
        readonly issuer: string;
        readonly clientId: string;
        /** Secret; undefined for a public client. */
        readonly clientSecret: string | undefined;
        readonly scopes: string;
        readonly displayName: string;
      }
    | undefined;
  /** The identity provider's own access tokens, accepted as access tokens; undefined when off. */
  readonly externalJwt:
    { readonly issuer: string; readonly audience: string; readonly jwksUrl: string | undefined } | undefined;
  /** Human approval of tool calls. */
  readonly approvals: { readonly tools: readonly string[]; readonly timeoutMs: number };
  /** LLM_PROVIDER=agui: the team's own agent, over AG-UI. */
  readonly agui:
    | {
        readonly url: string;
        readonly audience: string;
        readonly timeoutMs: number;
        /** Secret: PKCS#8 PEM; undefined means a key kept in DATA_DIR. */
        readonly signingKeyPem: string | undefined;
      }
    | undefined;
  /** OpenTelemetry traces (OTEL_* settings); undefined when OTEL_EXPORTER_OTLP_ENDPOINT is unset. */
  readonly otel:
    | {
        /** The OTLP/HTTP base URL, without a trailing slash: spans go to `${endpoint}/v1/traces`. */
        readonly endpoint: string;
        /** Secret: sent with every export only. */
        readonly headers: Readonly<Record<string, string>>;
        readonly serviceName: string;
        readonly sampler: Raw['OTEL_TRACES_SAMPLER'];
        readonly samplerRatio: number;
      }
    | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const MIN_SECRET_BYTES = 32;
/** Settings whose values may hold credentials: never echoed in errors. */
const SECRET_SETTINGS = new Set([
  'JWT_SECRET_KEY',
  'DATABASE_URL',
  'REDIS_URL',
  'LLM_API_KEY',
  'LLM_BASE_URL',
  'AGENT_SIGNING_KEY',
  'OIDC_CLIENT_SECRET',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_HEADERS',
]);

/** Parses and validates the whole environment at once, reporting every problem together. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const problems: string[] = [];
  for (const alias of LEGACY_SECRET_ALIASES) {
    if (env[alias] !== undefined) {
      problems.push(
        `${alias} is set: remove it. JWT_SECRET_KEY is the only signing secret, so no two services can disagree.`,
      );
    }
  }
  const raw: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const given = env[name];
    // An empty variable means unset (`DATABASE_URL=` in an env file must not switch anything on).
    const input = given === undefined || given === '' ? setting.default : given;
    const parsed = setting.schema.safeParse(input);
    if (parsed.success) raw[name] = parsed.data;
    else
      problems.push(
        `${name}=${JSON.stringify(SECRET_SETTINGS.has(name) ? '[redacted]' : given)} is invalid: ${parsed.error.issues.map((i) => i.message).join('; ')}. ${setting.doc}`,
      );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const r = raw as Raw;

  const origins = r.ALLOWED_ORIGINS.map(normalizeOrigin);
  origins.forEach((o, i) => {
    if (o === undefined)
      problems.push(
        `ALLOWED_ORIGINS entry ${JSON.stringify(r.ALLOWED_ORIGINS[i])} is not an origin: write scheme://host[:port], e.g. https://chat.example.com.`,
      );
  });
  // A weak secret is refused in every environment: development tokens must not be forgeable either.
  if (r.JWT_SECRET_KEY !== undefined && Buffer.byteLength(r.JWT_SECRET_KEY) < MIN_SECRET_BYTES) {
    problems.push(
      `JWT_SECRET_KEY is shorter than ${MIN_SECRET_BYTES} bytes: generate one with \`openssl rand -base64 48\`.`,
    );
  } else if (r.JWT_SECRET_KEY !== undefined && isLowEntropy(r.JWT_SECRET_KEY)) {
    problems.push(
      'JWT_SECRET_KEY looks weak (too few distinct characters): generate one with `openssl rand -base64 48`.',
    );
  }
  if (r.NODE_ENV === 'production') {
    if (r.JWT_SECRET_KEY === undefined) {
      problems.push(
        'JWT_SECRET_KEY is required in production: generate one with `openssl rand -base64 48` and give the same value to every instance.',
      );
    }
    if (r.DEMO_MODE)
      problems.push('DEMO_MODE must be off in production: unset DEMO_MODE (demo identities need no password).');
    if (origins.length === 0)
      problems.push(
        'ALLOWED_ORIGINS is required in production: list the browser origins of your chat front end, e.g. ALLOWED_ORIGINS=https://chat.example.com.',
      );
  }
  if (r.REDIS_URL !== undefined) {
    // Instances that share Redis act as one service, so they must share durable data and the signing secret too.
    if (r.DATABASE_URL === undefined) {
      problems.push(
        'REDIS_URL is set without DATABASE_URL: instances sharing Redis would each keep their own SQLite. Set DATABASE_URL=postgres://... (the same for every instance), or unset REDIS_URL for a single instance.',
      );
    }
    if (r.JWT_SECRET_KEY === undefined) {
      problems.push(
        "REDIS_URL is set without JWT_SECRET_KEY: each instance would sign with its own generated key and refuse the others' tokens. Generate one with `openssl rand -base64 48` and give the same value to every instance.",
      );
    }
  }
  problems.push(...llmProblems(r), ...identityProblems(r), ...otelProblems(r));
  const mcpFile = r.MCP_CONFIG === undefined ? { servers: [], problems: [] } : readMcpFile(r.MCP_CONFIG);
  problems.push(...mcpFile.problems);
  const forwardsIdentity = mcpFile.servers.some((s) => s.transport === 'http' && s.forwardIdentity);
  if (forwardsIdentity && r.LLM_PROVIDER !== 'agui') {
    if (r.AGENT_SIGNING_KEY !== undefined) {
      const problem = agentKeyProblem(r.AGENT_SIGNING_KEY);
      if (problem !== undefined) problems.push(problem);
    } else if (r.REDIS_URL !== undefined) {
      problems.push(
        'AGENT_SIGNING_KEY is required with an MCP server that has "forwardIdentity": true and REDIS_URL: every instance must sign agent tokens with the same key (a PKCS#8 PEM, e.g. `openssl genpkey -algorithm ed25519`).',
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return deepFreeze({
    env: r.NODE_ENV,
    host: r.HOST,
    port: r.PORT,
    dataDir: resolve(r.DATA_DIR),
    publicUrl: r.PUBLIC_URL?.replace(/\/+$/, ''),
    trustProxy: r.TRUST_PROXY,
    jwt: {
      secretKey: r.JWT_SECRET_KEY,
      issuer: r.JWT_ISSUER,
      audience: r.JWT_AUDIENCE,
      accessTtlSeconds: r.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: r.REFRESH_TOKEN_TTL_SECONDS,
      sessionMaxAgeSeconds: r.SESSION_MAX_AGE_SECONDS,
    },
    ticketTtlSeconds: r.TICKET_TTL_SECONDS,
    ticketMaxTtlSeconds: 3600,
    demoMode: r.DEMO_MODE,
    allowedOrigins: origins.filter((o): o is string => o !== undefined),
    adminEmails: r.ADMIN_EMAILS.map((e) => e.toLowerCase()),
    logLevel: r.LOG_LEVEL,
    heartbeatIntervalMs: r.HEARTBEAT_INTERVAL_MS,
    gatewayLimits: {
      maxConnectionsPerUser: r.MAX_CONNECTIONS_PER_USER,
      messagesPerSecond: r.WS_MESSAGES_PER_SECOND,
      messageBurst: r.WS_MESSAGE_BURST,
      handshakesPerMinute: r.HANDSHAKES_PER_MINUTE,
      maxBufferedBytes: r.MAX_BUFFERED_BYTES,
    },
    shutdownGraceMs: r.SHUTDOWN_GRACE_MS,
    sseKeepAliveMs: r.SSE_KEEPALIVE_MS,
    maxMessageBytes: r.MAX_MESSAGE_BYTES,
    httpBodyLimitBytes: r.HTTP_BODY_LIMIT_BYTES,
    runs: {
      maxPerUser: r.MAX_RUNS_PER_USER,
      maxActiveRuns: r.MAX_ACTIVE_RUNS,
      databaseQueueWaitMs: r.DATABASE_QUEUE_WAIT_MS,
      maxDurationMs: r.RUN_MAX_DURATION_MS,
      maxToolCalls: r.RUN_MAX_TOOL_CALLS,
      startsPerMinute: r.RUNS_PER_MINUTE,
      maxThreadsPerUser: r.MAX_THREADS_PER_USER,
      maxMessagesPerThread: r.MAX_MESSAGES_PER_THREAD,
      historyMessages: r.RUN_HISTORY_MESSAGES,
      historyChars: r.RUN_HISTORY_CHARS,
    },
    rateLimits: {
      loginPerMinute: r.LOGIN_ATTEMPTS_PER_MINUTE,
      refreshPerMinute: r.REFRESH_ATTEMPTS_PER_MINUTE,
      ticketsPerMinute: r.TICKETS_PER_MINUTE,
    },
    database: r.DATABASE_URL === undefined ? undefined : { url: r.DATABASE_URL, poolSize: r.DATABASE_POOL_SIZE },
    redis: r.REDIS_URL === undefined ? undefined : { url: r.REDIS_URL, keyPrefix: r.REDIS_KEY_PREFIX },
    instanceLeaseMs: r.INSTANCE_LEASE_MS,
    llm: {
      provider: r.LLM_PROVIDER,
      baseUrl: r.LLM_BASE_URL?.replace(/\/+$/, ''),
      apiKey: r.LLM_API_KEY,
      model: r.LLM_MODEL,
      systemPrompt: r.LLM_SYSTEM_PROMPT,
      maxSteps: r.LLM_MAX_STEPS,
      maxOutputTokens: r.LLM_MAX_OUTPUT_TOKENS,
      thinkingBudgetTokens: r.LLM_THINKING_BUDGET_TOKENS,
      timeoutMs: r.LLM_TIMEOUT_MS,
      maxRetries: r.LLM_MAX_RETRIES,
      tokenBudget: { perUser: r.LLM_TOKEN_BUDGET_PER_USER, windowHours: r.LLM_TOKEN_BUDGET_WINDOW_HOURS },
    },
    retention: { threadDays: r.THREAD_RETENTION_DAYS, demoUserHours: r.DEMO_USER_RETENTION_HOURS },
    agentSigningKeyPem: r.AGENT_SIGNING_KEY,
    oidc:
      r.OIDC_ISSUER === undefined || r.OIDC_CLIENT_ID === undefined
        ? undefined
        : {
            issuer: r.OIDC_ISSUER,
            clientId: r.OIDC_CLIENT_ID,
            clientSecret: r.OIDC_CLIENT_SECRET,
            scopes: withOpenId(r.OIDC_SCOPES),
            displayName: r.OIDC_DISPLAY_NAME,
          },
    externalJwt:
      r.EXTERNAL_JWT_ISSUER === undefined || r.EXTERNAL_JWT_AUDIENCE === undefined
        ? undefined
        : { issuer: r.EXTERNAL_JWT_ISSUER, audience: r.EXTERNAL_JWT_AUDIENCE, jwksUrl: r.EXTERNAL_JWT_JWKS_URL },
    approvals: { tools: r.TOOLS_REQUIRING_APPROVAL, timeoutMs: r.TOOL_APPROVAL_TIMEOUT_MS },
    mcp: {
      servers: mcpFile.servers,
      toolTimeoutMs: r.MCP_TOOL_TIMEOUT_MS,
      userIdleMs: r.MCP_USER_IDLE_MS,
      maxProcesses: r.MCP_MAX_PROCESSES,
    },
    agui:
      r.LLM_PROVIDER !== 'agui' || r.AGENT_URL === undefined
        ? undefined
        : {
            url: r.AGENT_URL,
            audience: r.AGENT_AUDIENCE ?? new URL(r.AGENT_URL).origin,
            timeoutMs: r.AGENT_TIMEOUT_MS,
            signingKeyPem: r.AGENT_SIGNING_KEY,
          },
    otel:
      r.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
        ? undefined
        : {
            endpoint: r.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, ''),
            headers: r.OTEL_EXPORTER_OTLP_HEADERS,
            serviceName: r.OTEL_SERVICE_NAME,
            sampler: r.OTEL_TRACES_SAMPLER,
            samplerRatio: r.OTEL_TRACES_SAMPLER_ARG,
          },
  });
}

/** OTEL_*: credentials belong in the headers, and travel encrypted to another machine. */
function otelProblems(r: Raw): string[] {
  if (r.OTEL_EXPORTER_OTLP_ENDPOINT === undefined) return [];
  const problems: string[] = [];
  const url = new URL(r.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '')
    problems.push(
      'OTEL_EXPORTER_OTLP_ENDPOINT must not carry credentials, a query string or a fragment: put credentials in OTEL_EXPORTER_OTLP_HEADERS.',
    );
  if (
    r.NODE_ENV === 'production' &&
    url.protocol === 'http:' &&
    Object.keys(r.OTEL_EXPORTER_OTLP_HEADERS).length > 0 &&
    !isLoopback(url.hostname)
  )
    problems.push(
      'OTEL_EXPORTER_OTLP_ENDPOINT is http:// to another host while OTEL_EXPORTER_OTLP_HEADERS is set: the headers would travel unencrypted. Use https://, or a collector on this machine.',
    );
  return problems;
}

/** OIDC_* and EXTERNAL_JWT_*: what only makes sense together, and identity over clear text. */
function identityProblems(r: Raw): string[] {
  const problems: string[] = [];
  const plain = (url: string): boolean => {
    const u = new URL(url);
    return u.protocol === 'http:' && (r.NODE_ENV === 'production' || !isLoopback(u.hostname));
  };
  if (r.OIDC_ISSUER !== undefined) {
    if (r.OIDC_CLIENT_ID === undefined)
      problems.push('OIDC_CLIENT_ID is required with OIDC_ISSUER: the client id you registered at the provider.');
    if (plain(r.OIDC_ISSUER))
      problems.push(
        'OIDC_ISSUER must be https:// (http:// only for a provider on this machine, outside production): ID tokens and codes would travel unencrypted.',
      );
  } else if (r.OIDC_CLIENT_ID !== undefined || r.OIDC_CLIENT_SECRET !== undefined) {
    problems.push('OIDC_CLIENT_ID / OIDC_CLIENT_SECRET are set without OIDC_ISSUER: set the issuer, or unset them.');
  }
  if (r.EXTERNAL_JWT_ISSUER !== undefined) {
    if (r.EXTERNAL_JWT_AUDIENCE === undefined)
      problems.push(
        'EXTERNAL_JWT_AUDIENCE is required with EXTERNAL_JWT_ISSUER: without an audience, a token the provider issued for any other API would be accepted.',
      );
    for (const [name, url] of [
      ['EXTERNAL_JWT_ISSUER', r.EXTERNAL_JWT_ISSUER],
      ['EXTERNAL_JWT_JWKS_URL', r.EXTERNAL_JWT_JWKS_URL],
    ] as const)
      if (url !== undefined && plain(url))
        problems.push(
          `${name} must be https:// (http:// only on this machine, outside production): keys could be swapped on the way.`,
        );
    if (r.EXTERNAL_JWT_ISSUER === r.JWT_ISSUER)
      problems.push("EXTERNAL_JWT_ISSUER is agentgate's own JWT_ISSUER: name your identity provider's issuer.");
    if (r.EXTERNAL_JWT_ISSUER === r.OIDC_ISSUER && r.EXTERNAL_JWT_AUDIENCE === r.OIDC_CLIENT_ID)
      problems.push(
        'EXTERNAL_JWT_AUDIENCE is OIDC_CLIENT_ID: that is the audience of ID tokens, which must not pass as access tokens. Use the identifier of the API your access tokens are issued for.',
      );
  } else if (r.EXTERNAL_JWT_AUDIENCE !== undefined || r.EXTERNAL_JWT_JWKS_URL !== undefined) {
    problems.push('EXTERNAL_JWT_AUDIENCE / EXTERNAL_JWT_JWKS_URL are set without EXTERNAL_JWT_ISSUER.');
  }
  return problems;
}

function withOpenId(scopes: string): string {
  const list = scopes.split(/\s+/).filter((s) => s !== '');
  return (list.includes('openid') ? list : ['openid', ...list]).join(' ');
}

/** The LLM_* settings that only make sense together. None apply to the offline agent. */
function llmProblems(r: Raw): string[] {
  if (r.LLM_PROVIDER === 'offline') return [];
  if (r.LLM_PROVIDER === 'agui') return aguiProblems(r);
  const problems: string[] = [];
  const provider = r.LLM_PROVIDER;
  if (r.LLM_MODEL === undefined)
    problems.push(
      `LLM_MODEL is required with LLM_PROVIDER=${provider}: name the model as the API knows it, e.g. ${provider === 'openai' ? 'LLM_MODEL=gpt-4o-mini' : 'LLM_MODEL=claude-sonnet-4-5'}.`,
    );
  if (r.LLM_API_KEY === undefined && (provider === 'anthropic' || r.LLM_BASE_URL === undefined)) {
    problems.push(
      `LLM_API_KEY is required with LLM_PROVIDER=${provider}${provider === 'openai' ? ' at the default https://api.openai.com/v1 (set LLM_BASE_URL for a self-hosted server that needs no key)' : ''}.`,
    );
  }
  const base = r.LLM_BASE_URL === undefined ? undefined : new URL(r.LLM_BASE_URL);
  if (base !== undefined && (base.username !== '' || base.password !== '' || base.search !== '')) {
    problems.push('LLM_BASE_URL must not carry credentials or a query string: put the key in LLM_API_KEY.');
  }
  // A key sent in clear text to another machine can be read on the way; a local server, or a private one that needs no key, is fine.
  if (
    r.NODE_ENV === 'production' &&
    base?.protocol === 'http:' &&
    r.LLM_API_KEY !== undefined &&
    !isLoopback(base.hostname)
  ) {
    problems.push(
      'LLM_BASE_URL is http:// to another host while LLM_API_KEY is set: the key would travel unencrypted. Use https://, or a loopback address for a local server.',
    );
  }
  const thinking = r.LLM_THINKING_BUDGET_TOKENS;
  if (thinking > 0 && (thinking < 1024 || thinking >= r.LLM_MAX_OUTPUT_TOKENS)) {
    problems.push(
      `LLM_THINKING_BUDGET_TOKENS=${thinking} must be 0 (off), or at least 1024 and below LLM_MAX_OUTPUT_TOKENS (${r.LLM_MAX_OUTPUT_TOKENS}).`,
    );
  }
  return problems;
}

/** The AGENT_* settings of LLM_PROVIDER=agui. */
function aguiProblems(r: Raw): string[] {
  const problems: string[] = [];
  if (r.AGENT_URL === undefined) {
    return [
      'AGENT_URL is required with LLM_PROVIDER=agui: the URL of your AG-UI agent endpoint, e.g. http://127.0.0.1:8000/agent.',
    ];
  }
  const url = new URL(r.AGENT_URL);
  if (url.username !== '' || url.password !== '') {
    problems.push('AGENT_URL must not carry credentials: agentgate sends the agent a signed agent token instead.');
  }
  // The agent token names the user: in clear text to another machine it could be read on the way.
  if (r.NODE_ENV === 'production' && url.protocol === 'http:' && !isLoopback(url.hostname)) {
    problems.push(
      'AGENT_URL is http:// to another host: the agent tokens would travel unencrypted. Use https://, or a loopback address for an agent on this machine.',
    );
  }
  if (r.AGENT_SIGNING_KEY !== undefined) {
    const problem = agentKeyProblem(r.AGENT_SIGNING_KEY);
    if (problem !== undefined) problems.push(problem);
  } else if (r.REDIS_URL !== undefined) {
    problems.push(
      'AGENT_SIGNING_KEY is required with LLM_PROVIDER=agui and REDIS_URL: every instance must sign agent tokens with the same key (a PKCS#8 PEM, e.g. `openssl genpkey -algorithm ed25519`).',
    );
  }
  return problems;
}

function agentKeyProblem(pem: string): string | undefined {
  let key;
  try {
    key = createPrivateKey(pem);
  } catch {
    return 'AGENT_SIGNING_KEY is not a private key in PEM: use a PKCS#8 PEM of an Ed25519 or P-256 key (`openssl genpkey -algorithm ed25519`).';
  }
  if (key.asymmetricKeyType === 'ed25519') return undefined;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return undefined;
  return `AGENT_SIGNING_KEY is a ${key.asymmetricKeyType ?? 'unknown'} key: use Ed25519 or P-256 (EdDSA or ES256 tokens).`;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** `scheme://host[:port]` in the form browsers send it (default ports dropped), or undefined. */
export function normalizeOrigin(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

function isLowEntropy(secret: string): boolean {
  return new Set(secret).size < 10;
}

function deepFreeze<T extends object>(value: T): T {
  for (const v of Object.values(value)) if (v !== null && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(value);
}
