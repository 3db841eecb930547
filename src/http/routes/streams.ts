import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AguiMapper, parseRunAgentInput } from '../../agui/index.js';
import { AppError } from '../../errors/index.js';
import type { RunEvent } from '../../protocol/index.js';
import { followRun } from '../../runs/index.js';
import { requirePrincipal, type HttpDeps } from '../context.js';
import { parseInput } from '../errors.js';
import { SseResponse } from '../sse.js';

const IdParams = z.object({ id: z.string().min(1).max(128) });
const StreamQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  format: z.enum(['agentgate', 'agui']).default('agentgate'),
});
const LastEventId = z.coerce.number().int().min(0);

type Format = z.infer<typeof StreamQuery>['format'];

/** Server-Sent Events: a run as a resumable stream (`GET /runs/:id/stream`), and AG-UI (`POST /agui`). */
export function streamRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { auth, runs, history } = deps;
  // Streams follow runs that may last minutes: at shutdown they end at once (clients resume elsewhere with
  // Last-Event-ID), so closing the server does not wait for them.
  const open = new Set<SseResponse>();
  app.addHook('preClose', (done) => {
    for (const sse of open) sse.end();
    done();
  });

  app.get('/runs/:id/stream', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    const { id } = parseInput(IdParams, request.params);
    const query = parseInput(StreamQuery, request.query);
    // A reconnecting EventSource sends Last-Event-ID; it wins over ?after.
    const header = request.headers['last-event-id'];
    const afterSeq = header === undefined ? (query.after ?? 0) : parseInput(LastEventId, header);
    await history.getRun(principal.userId, id);
    await stream(request, reply, deps, open, principal.userId, id, afterSeq, query.format);
  });

  app.post('/agui', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    const input = parseRunAgentInput(request.body);
    const existing = await history.getRun(principal.userId, input.runId).catch(() => undefined);
    // The same runId again (a client retrying its POST) streams the run it started, from the beginning.
    if (existing === undefined) {
      await runs.submit(principal.userId, {
        text: input.text,
        threadId: input.threadId,
        runId: input.runId,
        createThread: true,
        connectionId: null,
      });
    } else if (existing.threadId !== input.threadId) {
      throw new AppError('invalid_request', 'This runId belongs to another thread.');
    }
    await stream(request, reply, deps, open, principal.userId, input.runId, 0, 'agui');
  });
}

async function stream(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: HttpDeps,
  open: Set<SseResponse>,
  userId: string,
  runId: string,
  afterSeq: number,
  format: Format,
): Promise<void> {
  // AG-UI events depend on what came before (an open text message): replay the earlier events through the mapper.
  const mapper = format === 'agui' ? new AguiMapper() : undefined;
  if (mapper !== undefined && afterSeq > 0)
    mapper.prime((await deps.history.eventsAfter(userId, runId, 0)).events.filter((e) => e.seq <= afterSeq));

  reply.hijack();
  let stop: (() => void) | undefined;
  let closed = false;
  const sse = new SseResponse(
    reply.raw,
    { keepAliveMs: deps.config.sseKeepAliveMs, maxBufferedBytes: deps.config.gatewayLimits.maxBufferedBytes },
    () => {
      closed = true;
      open.delete(sse);
      stop?.();
    },
  );
  open.add(sse);
  const toWire = (event: RunEvent): readonly unknown[] => (mapper === undefined ? [event] : mapper.map(event));
  try {
    stop = await followRun({ history: deps.history, bus: deps.bus, logger: request.log }, userId, runId, afterSeq, {
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
