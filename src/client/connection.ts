import type { ClientMessage, ServerMessage } from '../protocol/wire/index.js';
import { backoffDelay } from './backoff.js';
import { ClientError, closeRuleOf, type CloseRule } from './errors.js';
import { parseFrame } from './frames.js';
import { newId } from './ids.js';
import { endsSession } from './session.js';
import type { ConnectionState, HandshakeRefusal, StateDetail, WebSocketLike } from './types.js';

export type Established = Extract<ServerMessage, { type: 'connection_established' }>;
type Reply = (reply: ServerMessage | undefined) => void;

/** A socket being opened, and the access token it authenticates with (it expires with that token). */
export interface Dialed {
  readonly socket: WebSocketLike;
  readonly token: string;
}

export interface ConnectionDeps {
  readonly dial: () => Promise<Dialed>;
  readonly freshToken: (stale: string | undefined) => Promise<string>;
  readonly onEstablished: (message: Established) => void;
  readonly onMessage: (message: ServerMessage) => void;
  /** The socket went away; it may come back. */
  readonly onDisconnected: () => void;
  /** No more attempts: `closed` (close(), or the login is over) or `offline` (call connect() again). */
  readonly onStopped: (error: ClientError, sessionEnded: boolean) => void;
  readonly onState: (state: ConnectionState, detail?: StateDetail) => void;
  readonly backoff: { readonly initialDelayMs: number; readonly maxDelayMs: number; readonly maxAttempts: number };
}

/** How long an opened socket may take to send connection_established before it counts as lost. */
const ESTABLISH_TIMEOUT_MS = 15_000;
/** The socket's token is replaced this long before it expires (or half its remaining life, if sooner). */
const RENEW_LEAD_MS = 30_000;

interface Failure {
  readonly error: ClientError;
  readonly rule:
    | CloseRule
    | {
        readonly reconnect: 'retry' | 'refresh' | 'stop';
        readonly minDelayMs?: number;
        readonly endsSession?: boolean;
      };
  /** The token the failed attempt used: a refresh must replace it. */
  readonly token?: string;
}

/**
 * One logical connection over many sockets: opens, reconnects with jittered exponential backoff by the close-code
 * table, keeps the socket's token fresh (`token_expiring` → `authenticate`), and notices a dead peer.
 */
export class Connection {
  state: ConnectionState = 'idle';
  private socket: WebSocketLike | undefined;
  private socketToken: string | undefined;
  /** Bumped by every new cycle and by close(): work of an older one stops at its next step. */
  private epoch = 0;
  private ready: { promise: Promise<void>; resolve: () => void; reject: (e: ClientError) => void } | undefined;
  private readonly replies = new Map<string, Reply>();
  private timers: {
    retry?: ReturnType<typeof setTimeout>;
    renew?: ReturnType<typeof setTimeout>;
    watchdog?: ReturnType<typeof setInterval>;
  } = {};
  private lastHeardAt = 0;
  /** Server clock minus local clock, from connection_established. */
  private skewMs = 0;

  constructor(private readonly deps: ConnectionDeps) {}

  get connected(): boolean {
    return this.state === 'connected' && this.socket !== undefined;
  }

  connect(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    if ((this.state === 'connecting' || this.state === 'reconnecting') && this.ready !== undefined)
      return this.ready.promise;
    return this.startCycle();
  }

  /** Closes for good (1000); a later connect() starts again. */
  close(error = new ClientError('client_closed', 'The client was closed.'), sessionEnded = false): void {
    this.epoch += 1;
    if (this.dropSocket(1000, 'normal')) this.deps.onDisconnected();
    if (this.state !== 'closed') this.stop('closed', { error }, sessionEnded);
  }

  /**
   * Runs `work` with no socket open, then opens one again if one was wanted (`reopen: 'failure'`: only when `work`
   * failed, the caller closing the connection otherwise). For a request that ends the socket's own login (changing
   * the password, logging out everywhere): the server closes that socket `session revoked`, and a socket already let
   * go of cannot end the login that `work` may replace. Runs in progress are resumed on the next socket, as after a
   * drop.
   */
  async whileDetached<T>(work: () => Promise<T>, reopen: 'always' | 'failure' = 'always'): Promise<T> {
    if (this.state !== 'connected' && this.state !== 'connecting' && this.state !== 'reconnecting') return work();
    this.epoch += 1;
    if (this.dropSocket(1000, 'normal')) this.deps.onDisconnected();
    const detached = this.epoch;
    this.setState('reconnecting', { retryInMs: 0 });
    let failed = true;
    try {
      const result = await work();
      failed = false;
      return result;
    } finally {
      // Unless something else (close(), another connect) took over meanwhile: open again, settling connect()'s callers.
      if (this.epoch === detached && (failed || reopen === 'always')) {
        const waiting = this.ready;
        const next = this.startCycle();
        if (waiting !== undefined) next.then(waiting.resolve, waiting.reject);
      }
    }
  }

  /** Sends when connected; `onReply` gets the frame answering `message.id`, or undefined if the socket goes first. */
  send(message: ClientMessage, onReply?: Reply): boolean {
    const socket = this.socket;
    if (!this.connected || socket === undefined) return false;
    socket.send(JSON.stringify(message));
    if (onReply !== undefined && message.id !== undefined) this.replies.set(message.id, onReply);
    return true;
  }

  private startCycle(initial?: Failure): Promise<void> {
    const epoch = ++this.epoch;
    let settle!: { resolve: () => void; reject: (e: ClientError) => void };
    const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    promise.catch(() => {});
    this.ready = { promise, ...settle };
    if (initial === undefined) this.setState('connecting');
    void this.cycle(epoch, initial);
    return promise;
  }

  private async cycle(epoch: number, initial: Failure | undefined): Promise<void> {
    let failure = initial;
    let attempt = 0;
    let refreshes = 0;
    for (;;) {
      if (failure !== undefined) {
        const { error, rule } = failure;
        if (rule.endsSession === true) return this.stop('closed', { error, ...closeDetail(error) }, true);
        if (rule.reconnect === 'stop') return this.stop('offline', { error, ...closeDetail(error) }, false);
        let delayMs: number | undefined;
        if (rule.reconnect === 'refresh' && refreshes < 2) {
          refreshes += 1;
          this.setState('reconnecting', { ...closeDetail(error), retryInMs: 0, error });
          try {
            await this.deps.freshToken(failure.token);
            delayMs = 0;
          } catch (err) {
            if (epoch !== this.epoch) return;
            if (endsSession(err)) return this.stop('closed', { error: err as ClientError }, true);
          }
        }
        if (delayMs === undefined) {
          attempt += 1;
          if (attempt > this.deps.backoff.maxAttempts)
            return this.stop('offline', { error, ...closeDetail(error) }, false);
          delayMs = Math.max(rule.minDelayMs ?? 0, backoffDelay(attempt - 1, this.deps.backoff));
          this.setState('reconnecting', { ...closeDetail(error), retryInMs: delayMs, error });
          await new Promise<void>((resolve) => (this.timers.retry = setTimeout(resolve, delayMs)));
        }
        if (epoch !== this.epoch) return;
      }
      try {
        await this.attempt(epoch);
        return;
      } catch (err) {
        if (epoch !== this.epoch) return;
        failure = err instanceof AttemptFailure ? err.failure : classifyDialError(err);
      }
    }
  }

  /** One socket: resolves once connection_established has arrived, rejects with what went wrong. */
  private async attempt(epoch: number): Promise<void> {
    const { socket, token } = await this.deps.dial();
    if (epoch !== this.epoch) {
      socket.close(1000, 'normal');
      return;
    }
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      let established = false;
      const timeout = setTimeout(() => {
        if (this.socket !== socket) return;
        this.dropSocket(4000, 'not established');
        reject(
          new AttemptFailure({
            error: new ClientError('connection_lost', 'The server did not confirm the connection in time.', {
              closeCode: 1006,
            }),
            rule: { reconnect: 'retry' },
          }),
        );
      }, ESTABLISH_TIMEOUT_MS);
      socket.addEventListener('error', () => {});
      socket.addEventListener('message', (event) => {
        if (this.socket !== socket) return;
        this.lastHeardAt = Date.now();
        const message = parseFrame(event.data);
        if (message === undefined) return;
        if (established) return this.dispatch(message);
        if (message.type !== 'connection_established') return;
        established = true;
        clearTimeout(timeout);
        this.established(message, token);
        resolve();
      });
      socket.addEventListener('close', ({ code, reason }) => {
        clearTimeout(timeout);
        if (this.socket !== socket) return;
        this.socket = undefined;
        if (established) return this.lost(code, reason);
        reject(new AttemptFailure(failureOfClose(code, reason, socket.refusal, token)));
      });
    });
  }

  private established(message: Established, token: string): void {
    this.socketToken = token;
    const serverTime = Date.parse(message.serverTime);
    this.skewMs = Number.isNaN(serverTime) ? 0 : serverTime - Date.now();
    this.startWatchdog(message.heartbeatIntervalMs);
    this.setState('connected');
    this.ready?.resolve();
    this.deps.onEstablished(message);
  }

  private dispatch(message: ServerMessage): void {
    const replyTo = 'replyTo' in message ? message.replyTo : null;
    const reply = replyTo === null ? undefined : this.replies.get(replyTo);
    if (reply !== undefined && replyTo !== null) {
      this.replies.delete(replyTo);
      return reply(message);
    }
    if (message.type === 'token_expiring') return this.scheduleRenewal(message.expiresAt);
    this.deps.onMessage(message);
  }

  /** The server will close 4001 at `expiresAt` (its clock) unless the socket gets a newer token first. */
  private scheduleRenewal(expiresAt: string): void {
    const deadline = Date.parse(expiresAt) - this.skewMs;
    if (Number.isNaN(deadline)) return;
    const remaining = deadline - Date.now();
    clearTimeout(this.timers.renew);
    this.timers.renew = setTimeout(
      () => void this.renew(2),
      Math.max(0, remaining - Math.min(RENEW_LEAD_MS, remaining / 2)),
    );
  }

  private async renew(triesLeft: number): Promise<void> {
    const socket = this.socket;
    let token: string;
    try {
      token = await this.deps.freshToken(this.socketToken);
    } catch {
      // The login is over (the client is closing) or the server is unreachable: the 4001 close will retry.
      return;
    }
    if (socket === undefined || socket !== this.socket) return;
    this.send({ type: 'authenticate', id: newId(), token }, (reply) => {
      if (reply?.type === 'authenticated') this.socketToken = token;
      else if (reply?.type === 'error' && triesLeft > 1) {
        this.socketToken = token;
        void this.renew(triesLeft - 1);
      }
    });
  }

  /** Pings when the server has been quiet for a heartbeat; a socket quiet for two more is taken as dead. */
  private startWatchdog(heartbeatIntervalMs: number): void {
    const period = Math.max(1_000, heartbeatIntervalMs);
    clearInterval(this.timers.watchdog);
    this.timers.watchdog = setInterval(() => {
      const silentMs = Date.now() - this.lastHeardAt;
      if (silentMs > 2 * period + 5_000) return this.lost(1006, 'no answer to ping', true);
      if (silentMs >= period) this.send({ type: 'ping', id: newId() }, () => {});
    }, period);
  }

  /** An established socket went away: reconnect by the close-code table. */
  private lost(code: number, reason: string, abandon = false): void {
    if (abandon) this.dropSocket(4000, 'heartbeat timeout');
    else this.clearConnectedState();
    this.deps.onDisconnected();
    void this.startCycle(failureOfClose(code, reason, undefined, this.socketToken));
  }

  /** Lets go of the current socket (its later events are ignored); true when there was one. */
  private dropSocket(code: number, reason: string): boolean {
    const socket = this.socket;
    this.socket = undefined;
    this.clearConnectedState();
    clearTimeout(this.timers.retry);
    if (socket === undefined) return false;
    try {
      socket.close(code, reason);
    } catch {
      // Already closed or never opened: nothing to do.
    }
    return true;
  }

  private clearConnectedState(): void {
    clearTimeout(this.timers.renew);
    clearInterval(this.timers.watchdog);
    const replies = [...this.replies.values()];
    this.replies.clear();
    for (const reply of replies) reply(undefined);
  }

  private stop(state: 'closed' | 'offline', detail: StateDetail & { error: ClientError }, sessionEnded: boolean): void {
    clearTimeout(this.timers.retry);
    this.setState(state, detail);
    this.ready?.reject(detail.error);
    this.ready = undefined;
    this.deps.onStopped(detail.error, sessionEnded);
  }

  private setState(state: ConnectionState, detail?: StateDetail): void {
    this.state = state;
    this.deps.onState(state, detail);
  }
}

class AttemptFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.error.message);
  }
}

function closeDetail(error: ClientError): StateDetail {
  return error.closeCode === undefined ? {} : { closeCode: error.closeCode };
}

function failureOfClose(
  code: number,
  reason: string,
  refusal: HandshakeRefusal | undefined,
  token: string | undefined,
): Failure {
  if (refusal !== undefined) return failureOfRefusal(refusal, token);
  const rule = closeRuleOf(code, reason);
  const error = new ClientError(rule.code, `The connection closed (${code}${reason === '' ? '' : ` ${reason}`}).`, {
    closeCode: code,
  });
  return { error, rule, ...(token === undefined ? {} : { token }) };
}

/** Codes of HTTP answers after which no retry can succeed without a new login. */
const LOGIN_OVER: ReadonlySet<string> = new Set([
  'not_authenticated',
  'unauthorized',
  'invalid_token',
  'invalid_refresh_token',
  'refresh_token_reused',
]);

function failureOfRefusal(refusal: HandshakeRefusal, token: string | undefined): Failure {
  const code = refusal.code ?? 'unexpected_response';
  const error = new ClientError(code, `The WebSocket upgrade was refused (${refusal.status} ${code}).`, {
    status: refusal.status,
    ...(refusal.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: refusal.retryAfterSeconds }),
  });
  if (code === 'token_expired')
    return { error, rule: { reconnect: 'refresh' }, ...(token === undefined ? {} : { token }) };
  return { error, rule: ruleOfHttp(error) };
}

function classifyDialError(err: unknown): Failure {
  const error =
    err instanceof ClientError
      ? err
      : new ClientError('network_error', 'The connection could not be opened.', { cause: err });
  return { error, rule: ruleOfHttp(error) };
}

/** Ticket requests and refused upgrades: retry what time can fix (network, 429, 5xx), stop on the rest. */
function ruleOfHttp(error: ClientError): Failure['rule'] {
  if (LOGIN_OVER.has(error.code)) return { reconnect: 'stop', endsSession: true };
  const retryAfterMs = (error.retryAfterSeconds ?? 0) * 1000;
  if (
    error.code === 'network_error' ||
    error.status === 429 ||
    (error.status !== undefined && error.status >= 500) ||
    error.code === 'invalid_ticket'
  ) {
    return { reconnect: 'retry', minDelayMs: retryAfterMs };
  }
  return { reconnect: 'stop' };
}
