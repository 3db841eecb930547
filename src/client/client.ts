import {
  BEARER_SUBPROTOCOL_PREFIX,
  SUBPROTOCOL,
  WS_PATH,
  type ApprovalResponse,
  type AuthProvider,
  type AuthProvidersResponse,
  type AuthResponse,
  type MessagesResponse,
  type PageParams,
  type PublicUser,
  type RunEvent,
  type SessionSummary,
  type SessionsResponse,
  type RunEventsResponse,
  type ServerMessage,
  type ThreadMessage,
  type ThreadSummary,
  type ThreadsResponse,
  type ChangePasswordRequest,
  type TicketResponse,
  type UserMessage,
} from '../protocol/wire/index.js';
import { ApprovalWaits } from './approvals.js';
import { Connection, type Dialed, type Established } from './connection.js';
import { ClientError, isClientError } from './errors.js';
import { isRunEvent } from './frames.js';
import { HttpApi } from './http.js';
import { newId } from './ids.js';
import { RunHandleImpl } from './run-handle.js';
import { RunTracker, type ResumeOutcome } from './run-tracker.js';
import { Session } from './session.js';
import type {
  ClientOptions,
  ConnectionState,
  MessageAdded,
  RunHandle,
  RunOptions,
  StateDetail,
  StateListener,
  WebSocketLike,
} from './types.js';

/** The SDK's one subprotocol (the server answers with it, never with the bearer entry beside it). */
export { SUBPROTOCOL };
const DEFAULT_RECONNECT = { initialDelayMs: 500, maxDelayMs: 15_000, maxAttempts: 20 };
/** A user_message answered `service_unavailable` (another instance holds its id) is sent again this often. */
const BUSY_RETRIES = 3;

interface Outgoing {
  readonly message: UserMessage & { id: string };
  readonly handle: RunHandleImpl;
  /** How many sockets it was sent on: a repeat's run may have gone on unseen. */
  sends: number;
  busyRetries: number;
}

/**
 * The agentgate client (browser and Node). Accounts and data over HTTP; runs over one WebSocket that reconnects
 * by itself and resumes every unfinished run, so each run event reaches listeners and iterators exactly once.
 */
export class AgentgateClient {
  private readonly http: HttpApi;
  private readonly session: Session;
  private readonly connection: Connection;
  private tracker: RunTracker;
  /** user_messages not yet accepted, in the order run() was called. */
  private readonly outbox = new Map<string, Outgoing>();
  private readonly eventListeners = new Set<(event: RunEvent) => void>();
  private readonly addedListeners = new Set<(message: MessageAdded) => void>();
  private readonly stateListeners = new Set<StateListener>();
  private readonly approvals = new ApprovalWaits();

  constructor(protected readonly options: ClientOptions) {
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.http = new HttpApi(options.baseUrl.replace(/\/+$/, ''), fetchImpl);
    this.session = new Session(this.http, {
      ...(options.onRefreshToken === undefined ? {} : { onRefreshToken: options.onRefreshToken }),
      ...(options.refreshLeadMs === undefined ? {} : { refreshLeadMs: options.refreshLeadMs }),
      onEnded: (reason) => this.connection.close(reason, true),
    });
    this.tracker = this.newTracker();
    this.connection = new Connection({
      dial: () => this.dial(),
      freshToken: (stale) => this.session.freshToken(stale),
      onEstablished: (message) => this.onEstablished(message),
      onMessage: (message) => this.onMessage(message),
      onDisconnected: () => this.tracker.connectionLost(),
      onStopped: (error, sessionEnded) => this.onStopped(error, sessionEnded),
      onState: (state, detail) => notify(this.stateListeners, state, detail),
      backoff: {
        initialDelayMs: options.reconnect?.initialDelayMs ?? DEFAULT_RECONNECT.initialDelayMs,
        maxDelayMs: options.reconnect?.maxDelayMs ?? DEFAULT_RECONNECT.maxDelayMs,
        maxAttempts: options.reconnect?.maxAttempts ?? DEFAULT_RECONNECT.maxAttempts,
      },
    });
  }

  // accounts

  async register(email: string, password: string, displayName?: string): Promise<PublicUser> {
    return this.adopt(
      await this.http.call<AuthResponse>('POST', '/auth/register', {
        body: { email, password, ...(displayName === undefined ? {} : { displayName }) },
      }),
    );
  }

  async login(email: string, password: string): Promise<PublicUser> {
    return this.adopt(await this.http.call<AuthResponse>('POST', '/auth/login', { body: { email, password } }));
  }

  /**
   * Finishes an OpenID Connect sign-in: the `login_code` that `/auth/oidc/start`'s round trip brought back to this
   * page. Single-use, 60 s, and only from the browser that started it (its cookie goes with the request).
   */
  async signInWithCode(code: string): Promise<PublicUser> {
    return this.adopt(await this.http.call<AuthResponse>('POST', '/auth/oidc/exchange', { body: { code } }));
  }

  /** The sign-in providers the server offers besides passwords (GET /auth/providers); none when OIDC is off. */
  async providers(): Promise<AuthProvider[]> {
    return (await this.http.call<AuthProvidersResponse>('GET', '/auth/providers')).providers;
  }

  async demo(): Promise<PublicUser> {
    return this.adopt(await this.http.call<AuthResponse>('POST', '/auth/demo', { body: {} }));
  }

  /** Resumes a session from a stored refresh token (POST /auth/refresh). */
  async restore(refreshToken: string): Promise<PublicUser> {
    const before = this.session.user?.id;
    this.session.startFrom(refreshToken);
    await this.session.accessToken();
    const user = this.session.user;
    if (user === null) throw new ClientError('unexpected_response', 'The refresh answered without a user.');
    if (before !== undefined && before !== user.id) this.resetRealtime();
    return user;
  }

  /** POST /auth/logout, closes the socket, clears tokens. The local logout happens even when the server cannot be told. */
  async logout(): Promise<void> {
    const refreshToken = this.session.currentRefreshToken;
    let token: string | undefined;
    try {
      token = refreshToken === undefined ? undefined : await this.session.accessToken();
    } catch {
      // No usable access token: the login is already over server-side, or unreachable; forget it locally.
    }
    this.connection.close();
    this.session.clear();
    this.forgetRuns();
    if (token === undefined || refreshToken === undefined) return;
    try {
      await this.http.call('POST', '/auth/logout', { token, body: { refreshToken } });
    } catch (err) {
      if (!isClientError(err) || err.status !== 401) throw err;
    }
  }

  /** This user's logins (GET /auth/sessions), the one of this client marked `current`. */
  async sessions(): Promise<SessionSummary[]> {
    return (await this.session.authed<SessionsResponse>('GET', '/auth/sessions')).sessions;
  }

  /**
   * Ends one login of this user (DELETE /auth/sessions/:id): its tokens are refused and its sockets close
   * `session revoked`. Ending this client's own login ends it here too, as the server closes this socket.
   */
  async endSession(sessionId: string): Promise<void> {
    await this.session.authed('DELETE', `/auth/sessions/${encodeURIComponent(sessionId)}`);
  }

  /** "Log out everywhere" (DELETE /auth/sessions): every login of this user ends, this one too, as logout() does here. */
  async logoutEverywhere(): Promise<void> {
    await this.connection.whileDetached(() => this.session.authed('DELETE', '/auth/sessions'), 'failure');
    this.endLocally();
  }

  /**
   * Changes the password (POST /auth/password). The server ends every login of the user and starts a new one for
   * this client: its tokens replace the old ones (`onRefreshToken`), and the socket reconnects with them, resuming
   * the runs in progress. Rejects with `invalid_credentials` (wrong current password) or `invalid_request` (a new
   * password too short, too common or the email), and then changes nothing.
   */
  async changePassword(currentPassword: string, newPassword: string): Promise<PublicUser> {
    const body: ChangePasswordRequest = { currentPassword, newPassword };
    return this.connection.whileDetached(async () =>
      this.adopt(await this.session.authed<AuthResponse>('POST', '/auth/password', body)),
    );
  }

  /**
   * Deletes the account and everything of it (DELETE /auth/me), then forgets the login here as logout() does. The
   * password confirms it (a demo user has none: omit it). Rejects with `invalid_credentials` and deletes nothing.
   */
  async deleteAccount(password?: string): Promise<void> {
    await this.connection.whileDetached(
      () => this.session.authed('DELETE', '/auth/me', password === undefined ? {} : { password }),
      'failure',
    );
    this.endLocally();
  }

  get user(): PublicUser | null {
    return this.session.user;
  }

  /** A valid access token, refreshed (single-flight) shortly before expiry. */
  accessToken(): Promise<string> {
    return this.session.accessToken();
  }

  // data

  /** The threads with the most recent activity (one page: see threadPage for the older ones). */
  async threads(): Promise<ThreadSummary[]> {
    return (await this.threadPage()).threads;
  }

  /** One page of threads, newest activity first; pass `nextBefore` as `before` for the next one. */
  threadPage(page: PageParams = {}): Promise<ThreadsResponse> {
    return this.session.authed<ThreadsResponse>('GET', `/threads${pageQuery(page)}`);
  }

  /** The thread's most recent messages, oldest first (one page: see messagePage for older ones). */
  async messages(threadId: string): Promise<ThreadMessage[]> {
    return (await this.messagePage(threadId)).messages;
  }

  /** One page of a thread's messages, the most recent first taken; pass `nextBefore` as `before` for older ones. */
  messagePage(threadId: string, page: PageParams = {}): Promise<MessagesResponse> {
    return this.session.authed<MessagesResponse>(
      'GET',
      `/threads/${encodeURIComponent(threadId)}/messages${pageQuery(page)}`,
    );
  }

  /** Renames a thread (PATCH /threads/:id; 1 to 200 characters once trimmed); `not_found` when it is not this user's. */
  async renameThread(threadId: string, title: string): Promise<ThreadSummary> {
    return (
      await this.session.authed<{ thread: ThreadSummary }>('PATCH', `/threads/${encodeURIComponent(threadId)}`, {
        title,
      })
    ).thread;
  }

  /**
   * Deletes a thread with its messages, runs and their events (DELETE /threads/:id). A run in progress in it is
   * cancelled first: its `run_cancelled` reaches every connection of the user. `not_found` when it is not theirs.
   */
  async deleteThread(threadId: string): Promise<void> {
    await this.session.authed('DELETE', `/threads/${encodeURIComponent(threadId)}`);
  }

  async runEvents(runId: string, after = 0): Promise<RunEvent[]> {
    return (
      await this.session.authed<RunEventsResponse>('GET', `/runs/${encodeURIComponent(runId)}/events?after=${after}`)
    ).events;
  }

  // realtime

  /** Resolves on connection_established; later drops reconnect by themselves. */
  connect(): Promise<void> {
    return this.connection.connect();
  }

  /** Closes with 1000 and does not reconnect. */
  close(): void {
    this.connection.close();
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  onStateChange(listener: (state: ConnectionState, detail?: StateDetail) => void): () => void {
    return subscribe(this.stateListeners, listener);
  }

  /** Every run event of this user (any tab/device), exactly once per (runId, seq), in seq order per run. */
  onEvent(listener: (event: RunEvent) => void): () => void {
    return subscribe(this.eventListeners, listener);
  }

  /** message_added announcements (a user message accepted on any connection of this user). */
  onMessageAdded(listener: (message: MessageAdded) => void): () => void {
    return subscribe(this.addedListeners, listener);
  }

  /** Starts a run; the handle is an async iterator over its events, ending after the terminal event. */
  run(text: string, options: RunOptions = {}): RunHandle {
    const handle = new RunHandleImpl(0, (h) => this.cancelHandle(h));
    const { signal } = options;
    if (signal?.aborted === true)
      return failed(handle, new ClientError('aborted', 'The signal was aborted before the message was sent.'));
    const id = newId();
    const message = {
      type: 'user_message' as const,
      id,
      text,
      ...(options.threadId === undefined ? {} : { threadId: options.threadId }),
      ...(options.onBusy === undefined ? {} : { onBusy: options.onBusy }),
    };
    const outgoing: Outgoing = { message, handle, sends: 0, busyRetries: 0 };
    this.outbox.set(id, outgoing);
    if (signal !== undefined) {
      const onAbort = (): void => void handle.cancel().catch(() => {});
      signal.addEventListener('abort', onAbort, { once: true });
      void handle.done.catch(() => {}).finally(() => signal.removeEventListener('abort', onAbort));
    }
    // Connecting is idempotent: this joins an attempt under way, and a failure reaches the handle.
    this.connect().catch(() => {});
    this.sendOutgoing(outgoing);
    return handle;
  }

  /** cancel_run over the socket (POST /runs/:id/cancel when not connected). */
  cancel(runId: string): Promise<void> {
    if (!this.connection.connected) return this.cancelOverHttp(runId, false);
    const cancelId = newId();
    return new Promise((resolve, reject) => {
      let refused = false;
      this.connection.send({ type: 'cancel_run', id: cancelId, runId }, (reply) => {
        if (reply?.type !== 'error') return;
        refused = true;
        reject(new ClientError(reply.code, reply.message));
      });
      // cancel_run has no ack, and a connection's messages are handled in order: once the ping is answered, the
      // cancel was taken (or refused, above).
      this.connection.send({ type: 'ping', id: newId() }, (reply) => {
        if (refused) return;
        if (reply !== undefined) return resolve();
        this.cancelOverHttp(runId, true).then(resolve, reject);
      });
    });
  }

  /**
   * Decides a tool call waiting for approval (`tool_approval_requested`). Resolves once the server took the decision
   * and, over the socket, once the run's `tool_approval_resolved` for the call is in (iterators and onEvent have it).
   * Rejects with `not_found` (no such call, or not this user's run) or `already_resolved` (decided, expired or
   * cancelled: the first decision wins).
   */
  approve(runId: string, toolCallId: string, approved: boolean): Promise<void> {
    // The socket when connected, as cancel(): a decision steers a run, and its answer is the run's own event there.
    if (!this.connection.connected) return this.approveOverHttp(runId, toolCallId, approved, false);
    const wait = this.approvals.expect(runId, toolCallId);
    return new Promise((resolve, reject) => {
      let refused = false;
      this.connection.send({ type: 'approve_tool', id: newId(), runId, toolCallId, approved }, (reply) => {
        if (reply?.type !== 'error') return;
        refused = true;
        wait.drop();
        reject(new ClientError(reply.code, reply.message));
      });
      // approve_tool has no ack either: once the ping after it is answered, the decision was taken (or refused).
      this.connection.send({ type: 'ping', id: newId() }, (reply) => {
        if (refused) return;
        if (reply !== undefined) return void wait.taken().then(resolve);
        wait.drop();
        this.approveOverHttp(runId, toolCallId, approved, true).then(resolve, reject);
      });
    });
  }

  /** Follows a run already going (e.g. after a page reload): replays from afterSeq, then live. */
  follow(runId: string, afterSeq = 0): RunHandle {
    const handle = new RunHandleImpl(afterSeq, (h) => this.cancelHandle(h));
    this.connect().catch(() => {});
    this.tracker.follow(runId, afterSeq, handle);
    return handle;
  }

  /** Opens one socket; node.ts overrides it to send headers. */
  protected createSocket(
    url: string,
    protocols: string[] | undefined,
    headers: Record<string, string> | undefined,
  ): WebSocketLike {
    if (headers !== undefined)
      throw new TypeError(
        "auth: 'bearer' needs the Node client (src/client/node.ts): browsers cannot send headers on a WebSocket.",
      );
    const WebSocketImpl =
      this.options.WebSocket ?? (globalThis as { WebSocket?: ClientOptions['WebSocket'] }).WebSocket;
    if (WebSocketImpl === undefined)
      throw new TypeError('No WebSocket implementation: pass options.WebSocket (in Node, use src/client/node.ts).');
    return new WebSocketImpl(url, protocols);
  }

  /** The login is over server-side: close the socket, forget the tokens and the runs, as logout() does. */
  private endLocally(): void {
    this.connection.close();
    this.session.clear();
    this.forgetRuns();
  }

  private adopt(auth: AuthResponse): PublicUser {
    const before = this.session.user?.id;
    const user = this.session.adopt(auth);
    if (before !== undefined && before !== user.id) this.resetRealtime();
    return user;
  }

  /** Another user logged in on this client: the socket and the runs it knew were the previous user's. */
  private resetRealtime(): void {
    this.connection.close();
    this.forgetRuns();
  }

  /**
   * The session is over (logout, or ended by the server): the runs this client knew are forgotten, so the next login
   * follows each of them from its first event again and onEvent hands a new listener whole runs.
   */
  private forgetRuns(): void {
    this.tracker = this.newTracker();
    this.approvals.releaseAll();
  }

  private newTracker(): RunTracker {
    return new RunTracker({
      emit: (event) => {
        notify(this.eventListeners, event);
        this.approvals.seen(event);
      },
      resume: (runId, afterSeq) => this.sendResume(runId, afterSeq),
      fetchEvents: (runId, after) => this.runEvents(runId, after),
    });
  }

  private async dial(): Promise<Dialed> {
    const method = this.options.auth ?? 'ticket';
    let token = await this.session.accessToken();
    const url = this.webSocketUrl();
    if (method === 'bearer')
      return { socket: this.createSocket(url, undefined, { authorization: `Bearer ${token}` }), token };
    if (method === 'subprotocol')
      return {
        socket: this.createSocket(url, [SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${token}`], undefined),
        token,
      };
    let ticket: TicketResponse;
    try {
      ticket = await this.http.call<TicketResponse>('POST', `${WS_PATH}/ticket`, { token, body: {} });
    } catch (err) {
      if (!isClientError(err) || err.code !== 'token_expired') throw err;
      token = await this.session.freshToken(token);
      ticket = await this.http.call<TicketResponse>('POST', `${WS_PATH}/ticket`, { token, body: {} });
    }
    // The socket lives no longer than the token that asked for the ticket.
    return {
      socket: this.createSocket(`${url}?ticket=${encodeURIComponent(ticket.ticket)}`, undefined, undefined),
      token,
    };
  }

  private webSocketUrl(): string {
    if (this.options.wsUrl !== undefined) return this.options.wsUrl;
    const base =
      this.options.baseUrl === ''
        ? ((globalThis as { location?: { origin?: string } }).location?.origin ?? '')
        : this.options.baseUrl;
    return `${base.replace(/\/+$/, '').replace(/^http/, 'ws')}${WS_PATH}`;
  }

  private onEstablished(message: Established): void {
    this.tracker.noteActive(message.activeRuns);
    for (const { runId, afterSeq } of this.tracker.unfinished()) this.sendResume(runId, afterSeq);
    for (const outgoing of this.outbox.values()) this.sendOutgoing(outgoing);
  }

  private onMessage(message: ServerMessage): void {
    if (isRunEvent(message)) return this.tracker.ingest(message);
    if (message.type === 'message_added')
      notify(this.addedListeners, { threadId: message.threadId, runId: message.runId, message: message.message });
  }

  private onStopped(error: ClientError, sessionEnded: boolean): void {
    if (sessionEnded) this.session.clear();
    const waiting = [...this.outbox.values()];
    this.outbox.clear();
    for (const { handle } of waiting) handle.fail(error);
    this.tracker.failHandles(error);
    this.approvals.releaseAll();
    if (sessionEnded) this.forgetRuns();
  }

  private sendOutgoing(outgoing: Outgoing): void {
    const sentBefore = outgoing.sends > 0;
    if (!this.connection.send(outgoing.message, (reply) => this.onUserMessageReply(outgoing, reply, sentBefore)))
      return;
    outgoing.sends += 1;
  }

  private onUserMessageReply(outgoing: Outgoing, reply: ServerMessage | undefined, sentBefore: boolean): void {
    if (reply === undefined) return; // the socket went: sent again, with the same id, on the next one
    const { id } = outgoing.message;
    if (reply.type === 'message_accepted') {
      this.outbox.delete(id);
      this.tracker.accepted(outgoing.handle, reply, sentBefore);
      return;
    }
    if (reply.type !== 'error') return;
    if (reply.code === 'service_unavailable' && outgoing.busyRetries < BUSY_RETRIES) {
      outgoing.busyRetries += 1;
      setTimeout(() => this.outbox.has(id) && this.sendOutgoing(outgoing), 1_000 * outgoing.busyRetries);
      return;
    }
    this.outbox.delete(id);
    const retry = reply.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: reply.retryAfterSeconds };
    outgoing.handle.fail(new ClientError(reply.code, reply.message, retry));
  }

  private sendResume(runId: string, afterSeq: number): ResumeOutcome {
    const sent = this.connection.send({ type: 'resume', id: newId(), runId, afterSeq }, (reply) => {
      if (reply?.type === 'resumed') this.tracker.resumed(runId, reply.finished);
      else if (reply?.type === 'error') this.tracker.resumeRefused(runId, new ClientError(reply.code, reply.message));
    });
    if (sent) return 'sent';
    return this.state === 'connecting' || this.state === 'reconnecting' || this.state === 'connected'
      ? 'later'
      : 'never';
  }

  private async cancelHandle(handle: RunHandleImpl): Promise<void> {
    const pending = [...this.outbox.values()].find((o) => o.handle === handle);
    if (pending !== undefined && pending.sends === 0) {
      this.outbox.delete(pending.message.id);
      handle.fail(new ClientError('aborted', 'The message was withdrawn before it was sent.'));
      return;
    }
    let runId: string;
    try {
      ({ runId } = await handle.accepted);
    } catch {
      return; // never started: nothing to cancel
    }
    if (handle.settled) return;
    try {
      await this.cancel(runId);
    } catch (err) {
      if (!isClientError(err) || err.code !== 'run_finished') throw err;
    }
  }

  private async cancelOverHttp(runId: string, afterLostSocket: boolean): Promise<void> {
    try {
      await this.session.authed('POST', `/runs/${encodeURIComponent(runId)}/cancel`);
    } catch (err) {
      // The cancel sent on the lost socket may have been taken already: the run ending is what was asked for.
      if (afterLostSocket && isClientError(err) && err.code === 'run_finished') return;
      throw err;
    }
  }

  private async approveOverHttp(
    runId: string,
    toolCallId: string,
    approved: boolean,
    afterLostSocket: boolean,
  ): Promise<void> {
    const path = `/runs/${encodeURIComponent(runId)}/approvals/${encodeURIComponent(toolCallId)}`;
    try {
      await this.session.authed<ApprovalResponse>('POST', path, { approved });
    } catch (err) {
      // The decision sent on the lost socket may have been taken: it was if the run's events show it as the user's.
      if (afterLostSocket && isClientError(err) && err.code === 'already_resolved') {
        const events = await this.runEvents(runId).catch(() => []);
        const resolved = events.find((e) => e.type === 'tool_approval_resolved' && e.toolCallId === toolCallId);
        if (resolved?.type === 'tool_approval_resolved' && resolved.reason === 'user' && resolved.approved === approved)
          return;
      }
      throw err;
    }
  }
}

function failed(handle: RunHandleImpl, error: ClientError): RunHandle {
  handle.fail(error);
  return handle;
}

function subscribe<L>(listeners: Set<L>, listener: L): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/** Calls every listener; one that throws does not stop the others (its error is rethrown outside the SDK). */
function notify<A extends unknown[]>(listeners: ReadonlySet<(...args: A) => void>, ...args: A): void {
  for (const listener of [...listeners]) {
    try {
      listener(...args);
    } catch (err) {
      setTimeout(() => {
        throw err;
      });
    }
  }
}

function pageQuery(page: PageParams): string {
  const query = new URLSearchParams();
  if (page.limit !== undefined) query.set('limit', String(page.limit));
  if (page.before !== undefined) query.set('before', page.before);
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}
