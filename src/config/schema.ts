import proxyaddr from '@fastify/proxy-addr';
import { z } from 'zod';

const bool = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

/**
 * Which proxies in front of the server are trusted to say who the client is (X-Forwarded-For): off (''), a hop
 * count, or proxy addresses and CIDRs (and proxy-addr's names loopback, linklocal, uniquelocal), as Fastify's
 * `trustProxy` takes them.
 */
const trustProxy = z.string().transform((value, ctx): false | number | string[] => {
  const v = value.trim();
  if (v === '' || v === 'false' || v === '0') return false;
  if (/^\d+$/.test(v)) return Number(v);
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  try {
    proxyaddr.compile(list);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a hop count nor proxy addresses/CIDRs (${(err as Error).message})` });
    return z.NEVER;
  }
  return list;
});

/**
 * OTLP exporter headers in the OpenTelemetry format: `key=value` pairs separated by commas, keys HTTP header
 * names, values percent-encoded.
 */
const otlpHeaders = z.string().transform((value, ctx): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const pair of value.split(',').filter((p) => p.trim() !== '')) {
    const at = pair.indexOf('=');
    const key = pair.slice(0, at).trim().toLowerCase();
    let decoded: string | undefined;
    try {
      decoded = at > 0 ? decodeURIComponent(pair.slice(at + 1).trim()) : undefined;
    } catch {
      decoded = undefined;
    }
    // Never the pair itself in the message: values are credentials.
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(key) || decoded === undefined || /[\r\n\0]/.test(decoded)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected key=value pairs separated by commas (values percent-encoded)',
      });
      return z.NEVER;
    }
    headers[key] = decoded;
  }
  return headers;
});

/**
 * Every setting, by its environment variable name, with its default and what it does.
 * docs/CONFIG.md is the prose form of this table; test/config.test.ts keeps the two in sync.
 */
export const SETTINGS = {
  NODE_ENV: {
    schema: z.enum(['development', 'production', 'test']),
    default: 'development',
    doc: '`production` turns on the strict start-up validator.',
  },
  HOST: { schema: z.string().min(1), default: '127.0.0.1', doc: 'Interface to listen on.' },
  PORT: { schema: int(0, 65535), default: '8080', doc: 'TCP port for HTTP and WebSocket (0 picks a free port).' },
  DATA_DIR: {
    schema: z.string().min(1),
    default: './data',
    doc: 'Where the SQLite database and the generated development signing key live.',
  },
  PUBLIC_URL: {
    schema: z.url().optional(),
    default: undefined,
    doc: 'The URL clients use to reach this server (behind a proxy). Default: http://HOST:PORT.',
  },
  JWT_SECRET_KEY: {
    schema: z.string().min(1).optional(),
    default: undefined,
    doc: 'The one HS256 secret for access tokens (>= 32 bytes). Unset in development: an EdDSA key pair is generated in DATA_DIR.',
  },
  JWT_ISSUER: {
    schema: z.string().min(1),
    default: 'agentgate',
    doc: 'The `iss` claim written and required on access tokens.',
  },
  JWT_AUDIENCE: {
    schema: z.string().min(1),
    default: 'agentgate',
    doc: 'The `aud` claim written and required on access tokens.',
  },
  ACCESS_TOKEN_TTL_SECONDS: { schema: int(30, 86_400), default: '900', doc: 'Access token lifetime.' },
  SESSION_MAX_AGE_SECONDS: {
    schema: int(300, 315_360_000),
    default: '7776000',
    doc: 'Absolute lifetime of a login (default 90 days): past it no refresh is accepted and access tokens expire, however often the session was refreshed. Log in again.',
  },
  REFRESH_TOKEN_TTL_SECONDS: {
    schema: int(60, 31_536_000),
    default: '2592000',
    doc: 'Refresh token lifetime (each rotation starts a new one).',
  },
  TICKET_TTL_SECONDS: { schema: int(1, 3600), default: '60', doc: 'Default lifetime of a WebSocket ticket.' },
  DEMO_MODE: {
    schema: bool,
    default: '0',
    doc: '`1` enables POST /auth/demo (throwaway users). Refused in production.',
  },
  THREAD_RETENTION_DAYS: {
    schema: int(0, 36_500),
    default: '0',
    doc: 'Threads without a message for this many days are deleted with everything in them (checked at start-up and hourly); 0 keeps them forever.',
  },
  DEMO_USER_RETENTION_HOURS: {
    schema: int(1, 8760),
    default: '24',
    doc: 'Demo users (DEMO_MODE) are deleted with everything of theirs this many hours after they were created (checked at start-up and hourly).',
  },
  ALLOWED_ORIGINS: {
    schema: list,
    default: '',
    doc: "Comma-separated browser origins allowed to open WebSockets and to call the HTTP API (CORS, no credentials), exact scheme://host:port, besides PUBLIC_URL's origin, which is always allowed. Default in development: the server's own origin. Required in production.",
  },
  TRUST_PROXY: {
    schema: trustProxy,
    default: '',
    doc: 'Proxies trusted to name the client in X-Forwarded-For, for every per-IP limit and the logs: off (default), a hop count, or comma-separated proxy addresses/CIDRs.',
  },
  ADMIN_EMAILS: { schema: list, default: '', doc: 'Comma-separated emails of admin users (for /auth/stats).' },
  LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    doc: 'Log level (JSON logs on stdout).',
  },
  HEARTBEAT_INTERVAL_MS: {
    schema: int(1000, 600_000),
    default: '30000',
    doc: 'Server ping interval; a peer that misses two pongs is terminated.',
  },
  MAX_MESSAGE_BYTES: {
    schema: int(256, 16_777_216),
    default: '65536',
    doc: 'Largest WebSocket message accepted (reassembled); larger closes 1009.',
  },
  HTTP_BODY_LIMIT_BYTES: {
    schema: int(1024, 16_777_216),
    default: '65536',
    doc: 'Largest HTTP body accepted; larger gets 413 payload_too_large.',
  },
  MAX_CONNECTIONS_PER_USER: {
    schema: int(1, 10_000),
    default: '20',
    doc: 'Open WebSockets and SSE streams one user may hold (on all instances together, with Redis); more are refused with 429.',
  },
  WS_MESSAGES_PER_SECOND: {
    schema: int(1, 100_000),
    default: '20',
    doc: 'Sustained client messages per second per connection.',
  },
  WS_MESSAGE_BURST: {
    schema: int(0, 1_000_000),
    default: '100',
    doc: 'Extra messages a connection may send in a burst (refilled over 10 s); past rate and burst it closes 1008 `rate limit exceeded`.',
  },
  HANDSHAKES_PER_MINUTE: {
    schema: int(1, 1_000_000),
    default: '300',
    doc: 'WebSocket upgrade attempts per client IP per minute; more get 429.',
  },
  MAX_BUFFERED_BYTES: {
    schema: int(16_384, 1_073_741_824),
    default: '4194304',
    doc: 'Unsent bytes a connection may keep queued for more than 2 s; a slower reader is closed 1008 `slow consumer` (its runs go on and stay replayable).',
  },
  SSE_KEEPALIVE_MS: {
    schema: int(1000, 600_000),
    default: '15000',
    doc: 'A comment line this often on quiet Server-Sent Event streams (GET /runs/:id/stream, POST /agui), so proxies keep them open.',
  },
  SHUTDOWN_GRACE_MS: {
    schema: int(0, 600_000),
    default: '10000',
    doc: 'On SIGTERM, how long runs in progress may go on finishing before they are ended `interrupted`.',
  },
  MAX_RUNS_PER_USER: {
    schema: int(1, 1000),
    default: '5',
    doc: 'Runs one user may have in progress at once, counted by the instance that receives the message; more get error too_many_runs.',
  },
  MAX_ACTIVE_RUNS: {
    schema: int(1, 1_000_000),
    default: '2000',
    doc: 'Runs this instance holds in progress at most; past it, new messages are refused at once with error overloaded (503 over HTTP) and a retry hint, so the load goes to other instances or waits.',
  },
  DATABASE_QUEUE_WAIT_MS: {
    schema: int(1, 4_000),
    default: '1000',
    doc: 'How long a PostgreSQL statement may wait for one of the DATABASE_POOL_SIZE connections: while the oldest waiting statement has waited longer, new messages are refused with error overloaded, so pool timeouts (5 s) stay unlikely. A wait, not a queue length: it holds on any machine.',
  },
  RUNS_PER_MINUTE: {
    schema: int(1, 100_000),
    default: '60',
    doc: 'Runs one user may start per minute, over every entry point (WebSocket, POST /agui) and, with Redis, every instance; more get rate_limited with a retry hint.',
  },
  MAX_THREADS_PER_USER: {
    schema: int(1, 10_000_000),
    default: '10000',
    doc: 'Threads one user may hold; a message that would start one more gets thread_limit_reached.',
  },
  MAX_MESSAGES_PER_THREAD: {
    schema: int(2, 1_000_000),
    default: '2000',
    doc: "Messages (the user's and the answers) one thread may hold; a message it has no room for, with its answer, gets thread_full.",
  },
  RUN_HISTORY_MESSAGES: {
    schema: int(0, 10_000),
    default: '100',
    doc: 'Earlier messages of the thread a run gives the agent at most: the most recent ones.',
  },
  RUN_HISTORY_CHARS: {
    schema: int(0, 10_000_000),
    default: '100000',
    doc: 'Characters of earlier messages a run gives the agent at most: the most recent messages that fit whole.',
  },
  RUN_MAX_DURATION_MS: {
    schema: int(1000, 86_400_000),
    default: '300000',
    doc: 'A run still going after this ends with agent_error run_timeout.',
  },
  RUN_MAX_TOOL_CALLS: {
    schema: int(1, 1000),
    default: '25',
    doc: 'A run asking for more tool calls ends with agent_error tool_limit_exceeded.',
  },
  LOGIN_ATTEMPTS_PER_MINUTE: {
    schema: int(1, 100_000),
    default: '10',
    doc: 'Login, register and demo attempts allowed per minute per IP (and login attempts per account).',
  },
  REFRESH_ATTEMPTS_PER_MINUTE: {
    schema: int(1, 100_000),
    default: '60',
    doc: 'Refresh attempts allowed per IP per minute.',
  },
  TICKETS_PER_MINUTE: {
    schema: int(1, 100_000),
    default: '60',
    doc: 'WebSocket tickets one user may obtain per minute.',
  },
  DATABASE_URL: {
    schema: z
      .url({ protocol: /^postgres(ql)?$/, error: 'expected postgres://user:password@host:port/database' })
      .optional(),
    default: undefined,
    doc: 'PostgreSQL URL: durable data (users, sessions, threads, runs, events) moves there from SQLite. Unset: SQLite under DATA_DIR.',
  },
  DATABASE_POOL_SIZE: {
    schema: int(1, 1000),
    default: '10',
    doc: 'PostgreSQL connections this instance keeps at most.',
  },
  REDIS_URL: {
    schema: z
      .url({ protocol: /^rediss?$/, error: 'expected redis://[:password@]host:port[/db] or rediss://...' })
      .optional(),
    default: undefined,
    doc: 'Redis URL: tickets, rate limits, connection leases, run ownership and cross-instance delivery move there from memory. Set it (with DATABASE_URL) to run several instances as one.',
  },
  INSTANCE_LEASE_MS: {
    schema: int(1000, 600_000),
    default: '15000',
    doc: "With Redis: how long the claims of a crashed instance (its users' connection slots) outlive it, renewed every third of it; its runs are ended once its key has stayed missing one more lease (a Redis restarted empty ends no run).",
  },
  REDIS_KEY_PREFIX: {
    schema: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[\w.:-]+$/),
    default: 'agentgate:',
    doc: 'Prefix of every Redis key and channel, so several deployments can share one Redis.',
  },
  LLM_PROVIDER: {
    schema: z.enum(['offline', 'openai', 'anthropic', 'agui']),
    default: 'offline',
    doc: 'Which agent answers: `offline` (the built-in agent, no model, no network), `openai` (any OpenAI-compatible Chat Completions API: OpenAI, vLLM, Ollama, llama.cpp server, LM Studio), `anthropic` (the Anthropic Messages API) or `agui` (your own agent, served over AG-UI at AGENT_URL). See docs/AGENTS.md.',
  },
  LLM_BASE_URL: {
    schema: z.url({ protocol: /^https?$/, error: 'expected http(s)://host[:port]/path' }).optional(),
    default: undefined,
    doc: 'The model API base URL. Default: https://api.openai.com/v1 (openai) or https://api.anthropic.com (anthropic). Self-hosted: e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM).',
  },
  LLM_API_KEY: {
    schema: z.string().min(1).optional(),
    default: undefined,
    doc: 'The model API key: required for anthropic, and for openai at its default URL; self-hosted servers may need none. Never logged or echoed.',
  },
  LLM_MODEL: {
    schema: z.string().min(1).max(256).optional(),
    default: undefined,
    doc: 'The model name as the API knows it (gpt-4o-mini, claude-sonnet-4-5, qwen2.5:7b...). Required for openai and anthropic.',
  },
  LLM_SYSTEM_PROMPT: {
    schema: z.string().min(1).max(100_000).optional(),
    default: undefined,
    doc: 'Replaces the built-in system prompt (DEFAULT_SYSTEM_PROMPT in src/agents/providers/llm-agent.ts).',
  },
  LLM_MAX_STEPS: {
    schema: int(1, 100),
    default: '8',
    doc: 'Model calls per run (each answer to tool results is one more); a model still calling tools after this many ends the run with agent_error llm_step_limit.',
  },
  LLM_MAX_OUTPUT_TOKENS: {
    schema: int(16, 1_000_000),
    default: '4096',
    doc: 'Most tokens the model may write per step (max_completion_tokens / max_tokens).',
  },
  LLM_THINKING_BUDGET_TOKENS: {
    schema: int(0, 1_000_000),
    default: '0',
    doc: 'anthropic only: extended thinking budget per step (0 = off; else at least 1024 and below LLM_MAX_OUTPUT_TOKENS). OpenAI-compatible servers send reasoning without it. Either becomes agent_thinking.',
  },
  LLM_TIMEOUT_MS: {
    schema: int(100, 600_000),
    default: '60000',
    doc: 'Longest wait for the response to start (per attempt; retried) and then for each streamed event; longer ends the run with agent_error llm_timeout.',
  },
  LLM_MAX_RETRIES: {
    schema: int(0, 10),
    default: '2',
    doc: "Retries of a model request that failed before streaming (connection error, timeout, 408, 409, 429, 5xx), with exponential backoff from 0.5 s or the server's Retry-After; a Retry-After longer than LLM_TIMEOUT_MS is not waited for.",
  },
  LLM_TOKEN_BUDGET_PER_USER: {
    schema: int(0, 1_000_000_000_000),
    default: '0',
    doc: 'Tokens (input + output) one user may use per budget window; 0 = unlimited. Checked before every model call: over it, the run ends with agent_error token_budget_exceeded, saying when the budget resets.',
  },
  LLM_TOKEN_BUDGET_WINDOW_HOURS: {
    schema: int(1, 744),
    default: '24',
    doc: 'Length of the token budget window in hours, aligned to the Unix epoch in UTC (24 = each UTC day, reset at 00:00 UTC).',
  },
  AGENT_URL: {
    schema: z.url({ protocol: /^https?$/, error: 'expected http(s)://host[:port]/path' }).optional(),
    default: undefined,
    doc: 'LLM_PROVIDER=agui: the AG-UI endpoint of your agent. Every run POSTs a RunAgentInput there and reads its event stream.',
  },
  AGENT_AUDIENCE: {
    schema: z.string().min(1).max(256).optional(),
    default: undefined,
    doc: 'LLM_PROVIDER=agui: the `aud` of the agent token. Default: the origin of AGENT_URL.',
  },
  AGENT_TIMEOUT_MS: {
    schema: int(1000, 3_600_000),
    default: '60000',
    doc: 'LLM_PROVIDER=agui: how long the agent may take to answer with headers, and then between two events; past it the run ends agent_error agent_timeout.',
  },
  AGENT_SIGNING_KEY: {
    schema: z.string().min(1).max(16_384).optional(),
    default: undefined,
    doc: 'LLM_PROVIDER=agui: the private key (PKCS#8 PEM, Ed25519 or P-256) that signs agent tokens; its public part is in the JWKS. Unset: a key kept in DATA_DIR (one instance only). Required with REDIS_URL.',
  },
  TOOLS_REQUIRING_APPROVAL: {
    schema: list,
    default: '',
    doc: 'Tools that wait for their user to approve each call (comma-separated names, `*` globs: `calculator`, `files__*`, `*`); built-in and MCP tools alike. See docs/AGENTS.md.',
  },
  TOOL_APPROVAL_TIMEOUT_MS: {
    schema: int(1000, 86_400_000),
    default: '600000',
    doc: 'How long a tool call waits for approval; then it is refused (`approval_expired`). Waiting does not count against RUN_MAX_DURATION_MS.',
  },
  MCP_CONFIG: {
    schema: z.string().min(1).optional(),
    default: undefined,
    doc: 'Path to a JSON file of MCP servers in the `mcpServers` format ({"mcpServers": {"<name>": {"command", "args", "env"} | {"url", "headers"}}}); their tools are offered to the openai and anthropic agents as `<name>__<tool>`. See docs/AGENTS.md.',
  },
  MCP_TOOL_TIMEOUT_MS: {
    schema: int(100, 3_600_000),
    default: '60000',
    doc: 'An MCP tool call without an answer this long after it was sent ends `tool_timeout` (progress notifications do not extend it).',
  },
  MCP_USER_IDLE_MS: {
    schema: int(1000, 86_400_000),
    default: '600000',
    doc: 'A per-user MCP server process (`"scope": "user"`) is stopped after this long without a call.',
  },
  MCP_MAX_PROCESSES: {
    schema: int(1, 10_000),
    default: '50',
    doc: 'Per-user MCP server processes this instance runs at most; past it the idlest one without a call in progress is stopped, and when every one is busy the call fails `tool_unavailable`.',
  },
  OIDC_ISSUER: {
    schema: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    default: undefined,
    doc: 'Sign-in with an OpenID Connect provider: its issuer URL (discovery at <issuer>/.well-known/openid-configuration; https, except on loopback outside production). Unset: off, /auth/oidc/* answer 404. Register <PUBLIC_URL>/auth/oidc/callback as the redirect URI.',
  },
  OIDC_CLIENT_ID: {
    schema: z.string().min(1).max(512).optional(),
    default: undefined,
    doc: 'The client id agentgate has at the OIDC provider (required with OIDC_ISSUER).',
  },
  OIDC_CLIENT_SECRET: {
    schema: z.string().min(1).max(4096).optional(),
    default: undefined,
    doc: "The client's secret (client_secret_basic, or client_secret_post when the provider offers only that). Unset: a public client (PKCE only).",
  },
  OIDC_SCOPES: {
    schema: z.string().min(1).max(1024),
    default: 'openid email profile',
    doc: 'Scopes asked for at sign-in (space-separated; `openid` is added when missing).',
  },
  OIDC_DISPLAY_NAME: {
    schema: z.string().trim().min(1).max(100),
    default: 'Single sign-on',
    doc: 'The provider\'s name on the sign-in button ("Sign in with <name>") and in GET /auth/providers.',
  },
  EXTERNAL_JWT_ISSUER: {
    schema: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    default: undefined,
    doc: "Accept your identity provider's own access tokens (JWTs from this issuer) wherever an access token is accepted. See docs/SECURITY.md.",
  },
  EXTERNAL_JWT_AUDIENCE: {
    schema: z.string().min(1).max(512).optional(),
    default: undefined,
    doc: 'The `aud` those tokens must carry (required with EXTERNAL_JWT_ISSUER): the API identifier you registered for agentgate.',
  },
  EXTERNAL_JWT_JWKS_URL: {
    schema: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    default: undefined,
    doc: "Where the issuer's public keys are. Default: `jwks_uri` of the issuer's discovery document.",
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    schema: z
      .url({ protocol: /^https?$/, error: 'expected http(s)://host:port, e.g. http://127.0.0.1:4318' })
      .optional(),
    default: undefined,
    doc: 'OpenTelemetry traces: the base URL of an OTLP/HTTP receiver (a collector, Jaeger, Tempo...); spans of HTTP requests, runs, model calls and tool calls are POSTed as JSON to <endpoint>/v1/traces. Unset: no tracing, and the OpenTelemetry SDK is not even loaded. See docs/OBSERVABILITY.md.',
  },
  OTEL_EXPORTER_OTLP_HEADERS: {
    schema: otlpHeaders,
    default: '',
    doc: 'Headers sent with every export, as `key=value` pairs separated by commas, values percent-encoded (`authorization=Bearer%20abc`). Never logged or echoed.',
  },
  OTEL_SERVICE_NAME: {
    schema: z.string().trim().min(1).max(256),
    default: 'agentgate',
    doc: 'The `service.name` of the spans.',
  },
  OTEL_TRACES_SAMPLER: {
    schema: z.enum([
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
      'always_on',
      'always_off',
      'traceidratio',
    ]),
    default: 'parentbased_always_on',
    doc: 'Which traces are recorded: `parentbased_*` follows the sampled flag of an incoming `traceparent` and applies the rest to new traces; `traceidratio` keeps OTEL_TRACES_SAMPLER_ARG of them.',
  },
  OTEL_TRACES_SAMPLER_ARG: {
    schema: z.coerce.number().min(0).max(1),
    default: '1',
    doc: 'The share of new traces kept by the `traceidratio` samplers (0 to 1).',
  },
} as const;

export type SettingName = keyof typeof SETTINGS;

/** Secrets that used to exist under other names. They must never silently disagree with JWT_SECRET_KEY. */
export const LEGACY_SECRET_ALIASES = ['JWT_SECRET', 'WEBSOCKET_JWT_SECRET', 'AUTH_SERVICE_JWT_SECRET'] as const;
