import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { AguiMapper, parseRunAgentInput } from '../../agui/index.js';
import { AppError } from '../../errors/index.js';
import type { Principal } from '../../auth/index.js';
import {
  CLOSE,
  IdParams,
  LastEventIdHeader,
  STREAM_CLOSED_EVENT,
  StreamQuery,
  type CloseKind,
  type RunEvent,
  type StreamClosed,
} from '../../protocol/index.js';
import { followRun } from '../../runs/index.js';
import { requirePrincipal, requireStreamPrincipal, type HttpDeps } from '../context.js';
import { parseInput } from '../errors.js';
import { corsHeadersOf } from '../cors.js';
import { SseResponse } from '../sse.js';
import { spanOfRequest } from '../tracing.js';

type Format = z.infer<typeof StreamQuery>['format'];

/** Server-Sent Events: a run as a resumable stream (`GET /runs/:id/stream`), and AG-UI (`POST /agui`). */
export function streamRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { auth, runs, history } = deps;
  // Streams follow runs that may last minutes: at shutdown they end at once (clients resume elsewhere with
  // Last-Event-ID), so closing the server does not wait for them.
  const open = new Set<(why: CloseKind) => void>();
  app.addHook('preClose', (done) => {
    for (const close of [...open]) close('shuttingDown');
    done();
  });

  app.get('/runs/:id/stream', async (request, reply) => {
    const principal = await requireStreamPrincipal(request, deps);
    const { id } = parseInput(IdParams, request.params);
    const query = parseInput(StreamQuery, request.query);
    // A reconnecting EventSource sends Last-Event-ID; it wins over ?after.
    const header = request.headers['last-event-id'];
    const afterSeq = header === undefined ? (query.after ?? 0) : parseInput(LastEventIdHeader, header);
    await history.getRun(principal.userId, id);
    await stream(request, reply, deps, open, principal, id, afterSeq, query.format);
  });

  app.post('/agui', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    const input = parseRunAgentInput(request.body);
    const existing = await history.getRun(principal.userId, input.runId).catch(() => undefined);
    // The same runId again (a client retrying its POST) streams the run it started, from the beginning.
    if (existing === undefined) {
      // The run logs this request's id and continues its trace.
      deps.origins?.set(input.runId, { requestId: request.id, span: spanOfRequest(request) });
      await runs
        .submit(principal.userId, {
          text: input.text,
          threadId: input.threadId,
          runId: input.runId,
          createThread: true,
          connectionId: null,
        })
        .catch((err: unknown) => {
          deps.origins?.delete(input.runId);
          throw err;
        });
    } else if (existing.threadId !== input.threadId) {
      throw new AppError('invalid_request', 'This runId belongs to another thread.');
    }
    await stream(request, reply, deps, open, principal, input.runId, 0, 'agui');
  });
}

/** The last words of a stream the server ends early: an event the agentgate format defines, a comment in AG-UI's. */
function closingNotice(why: CloseKind, format: Format): string {
  const { name, reason } = CLOSE[why];
  if (format === 'agui') return `: stream closed: ${name} (${reason})\n\n`;
  const body: StreamClosed = { code: name, message: reason };
  return `event: ${STREAM_CLOSED_EVENT}\ndata: ${JSON.stringify(body)}\n\n`;
}

async function stream(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: HttpDeps,
  open: Set<(why: CloseKind) => void>,
  principal: Principal,
  runId: string,
  afterSeq: number,
  format: Format,
): Promise<void> {
  const { userId } = principal;
  // AG-UI events depend on what came before (an open text message): replay the earlier events through the mapper.
  const mapper = format === 'agui' ? new AguiMapper() : undefined;
  if (mapper !== undefined && afterSeq > 0)
    mapper.prime((await deps.history.eventsAfter(userId, runId, 0)).events.filter((e) => e.seq <= afterSeq));

  // A slot first, like a socket (429 past the user's limit), while an error can still be an HTTP answer.
  let endedEarly: CloseKind | undefined;
  let endStream = (why: CloseKind): void => void (endedEarly = why);
  const close = (why: CloseKind): void => endStream(why);
  const slot = await deps.admitStream(principal, close);
  // A revocation that landed between the credential check and taking the slot announced itself to no one here.
  slot.recheckSession();

  const headers = corsHeadersOf(reply);
  reply.hijack();
  let stop: (() => void) | undefined;
  let closed = false;
  const sse = new SseResponse(
    reply.raw,
    { keepAliveMs: deps.config.sseKeepAliveMs, maxBufferedBytes: deps.config.gatewayLimits.maxBufferedBytes, headers },
    () => {
      closed = true;
      open.delete(close);
      slot.release();
      stop?.();
    },
  );
  endStream = (why) => sse.endWith(closingNotice(why, format));
  open.add(close);
  if (endedEarly !== undefined) return close(endedEarly);
  const toWire = (event: RunEvent): readonly unknown[] => (mapper === undefined ? [event] : mapper.map(event));
  const follow = { history: deps.history, bus: deps.bus, logger: request.log, onResync: () => slot.recheckSession() };
  try {
    stop = await followRun(follow, userId, runId, afterSeq, {
      event: (event) => sse.send(event.seq, toWire(event)),
      end: () => sse.end(),
    });
    // The reader left while the stream was being set up.
    if (closed) stop();
  } catch (err) {
    request.log.warn({ err, runId }, 'run stream failed');
    sse.end();
  }
}
