/**
 * The one table of stable error codes (docs/PROTOCOL.md "Error codes", kept in sync by a test). Each code has
 * exactly one HTTP status; `runOnly` codes only ever end a run (`agent_error`). Clients branch on `code`, never on
 * `message`.
 */
export const ERROR_CODES = {
  invalid_request: { http: 400, doc: 'The body, query or parameters failed validation.' },
  invalid_message: { http: 400, doc: 'A WebSocket message was not valid JSON or not a known message type.' },
  unauthorized: { http: 401, doc: 'No credential was presented where one is required.' },
  invalid_token: { http: 401, doc: 'The access token is malformed, forged, revoked, or its user no longer exists.' },
  token_expired: { http: 401, doc: 'The access token has expired: refresh it.' },
  invalid_credentials: { http: 401, doc: 'Email or password is wrong (the answer does not say which).' },
  invalid_refresh_token: { http: 401, doc: 'The refresh token is unknown, expired or revoked.' },
  refresh_token_reused: {
    http: 401,
    doc: 'A spent refresh token was replayed: the whole login (family) is now revoked.',
  },
  invalid_login_code: {
    http: 401,
    doc: 'The OIDC login code is unknown, expired, already used, or was issued to another browser.',
  },
  invalid_oidc_callback: {
    http: 400,
    doc: 'The OIDC sign-in could not be completed (state, cookie, code exchange, ID token, or the provider refused): start again.',
  },
  invalid_ticket: { http: 401, doc: 'The WebSocket ticket is unknown, expired or already spent.' },
  forbidden: { http: 403, doc: 'Authenticated, but not allowed (for example a non-admin on an admin route).' },
  origin_not_allowed: { http: 403, doc: 'The WebSocket Origin is not in ALLOWED_ORIGINS.' },
  not_found: { http: 404, doc: 'No such resource, or it belongs to someone else (the answer is the same).' },
  email_taken: { http: 409, doc: 'An account with this email (compared case-insensitively) already exists.' },
  run_finished: { http: 409, doc: 'The run has already ended.' },
  already_resolved: {
    http: 409,
    doc: 'The tool call was already approved, denied, expired or cancelled (the first decision wins), also after its run ended.',
  },
  thread_busy: { http: 409, doc: 'The thread already has a run in progress and onBusy was "reject".' },
  thread_full: {
    http: 409,
    doc: 'The thread holds MAX_MESSAGES_PER_THREAD messages (or has no room for one more and its answer): start a new thread.',
  },
  thread_limit_reached: {
    http: 409,
    doc: 'The user holds MAX_THREADS_PER_USER threads: a message that would start another is refused.',
  },
  payload_too_large: { http: 413, doc: 'The HTTP body is larger than the limit.' },
  unsupported_media_type: { http: 415, doc: 'The body is not application/json.' },
  rate_limited: {
    http: 429,
    doc: 'Too many attempts (or run starts, RUNS_PER_MINUTE): wait for Retry-After seconds (`retryAfterSeconds` on the socket).',
  },
  too_many_runs: { http: 429, doc: 'The user already has the maximum number of runs in progress.' },
  too_many_connections: {
    http: 429,
    doc: 'The user already holds MAX_CONNECTIONS_PER_USER open WebSockets and SSE streams.',
  },
  internal_error: { http: 500, doc: 'An unexpected server error; it was logged.' },
  service_unavailable: { http: 503, doc: 'A dependency (database, cache) is not answering.' },
  overloaded: {
    http: 503,
    doc: 'This instance is at its capacity (MAX_ACTIVE_RUNS runs in progress, or a database statement waiting for a connection longer than DATABASE_QUEUE_WAIT_MS): nothing was started; retry after retryAfterSeconds (Retry-After over HTTP).',
  },
  run_timeout: { http: 500, doc: 'The run exceeded its maximum duration.', runOnly: true },
  tool_limit_exceeded: { http: 500, doc: 'The run exceeded its maximum number of tool calls.', runOnly: true },
  agent_failed: { http: 500, doc: 'The agent failed while producing its answer.', runOnly: true },
  interrupted: { http: 500, doc: 'The server stopped while the run was in progress.', runOnly: true },
  agent_unavailable: {
    http: 502,
    doc: 'The AG-UI agent (AGENT_URL) could not be reached, or answered with an error status.',
    runOnly: true,
  },
  agent_protocol_error: {
    http: 502,
    doc: 'The AG-UI agent sent something that is not a valid AG-UI event stream (not SSE, invalid JSON or events, events out of order, or no RUN_FINISHED / RUN_ERROR).',
    runOnly: true,
  },
  agent_timeout: {
    http: 504,
    doc: 'The AG-UI agent sent no response headers, or no event, for AGENT_TIMEOUT_MS.',
    runOnly: true,
  },
  llm_unavailable: {
    http: 503,
    doc: 'The model API could not be reached, or kept failing (5xx, overloaded), after LLM_MAX_RETRIES retries.',
    runOnly: true,
  },
  llm_rate_limited: {
    http: 429,
    doc: 'The model API kept answering 429 after LLM_MAX_RETRIES retries, or asked to wait longer than LLM_TIMEOUT_MS.',
    runOnly: true,
  },
  llm_timeout: {
    http: 504,
    doc: 'The model API did not answer, or its stream stalled, for longer than LLM_TIMEOUT_MS.',
    runOnly: true,
  },
  llm_bad_response: { http: 502, doc: 'The model API sent a malformed or truncated stream.', runOnly: true },
  llm_request_rejected: {
    http: 502,
    doc: 'The model API refused the request: bad credentials, unknown model, or a request it cannot serve, such as too long a conversation.',
    runOnly: true,
  },
  llm_step_limit: { http: 500, doc: 'The model was still calling tools after LLM_MAX_STEPS steps.', runOnly: true },
  token_budget_exceeded: {
    http: 429,
    doc: 'The user has used the token budget (LLM_TOKEN_BUDGET_PER_USER) of the current window; the message says when it resets.',
    runOnly: true,
  },
} as const satisfies Record<string, { http: number; doc: string; runOnly?: true }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].http;
}
