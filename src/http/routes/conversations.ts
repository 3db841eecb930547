import type { FastifyInstance } from 'fastify';
import { notFound } from '../../errors/index.js';
import {
  ApprovalBody,
  ApprovalParams,
  IdParams,
  PageQuery,
  RenameThreadBody,
  RunEventsQuery,
  type ApprovalResponse,
  type CancelResponse,
  type MessagesResponse,
  type RunEventsResponse,
  type ThreadResponse,
  type ThreadsResponse,
  type ThreadSummary,
} from '../../protocol/index.js';
import { deleteThread, type ThreadRecord } from '../../runs/index.js';
import { requirePrincipal, type HttpDeps } from '../context.js';
import { messageCursor, threadCursor } from '../cursors.js';
import { parseInput } from '../errors.js';

export function conversationRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { auth, conversations, runs, history } = deps;

  app.get('/threads', async (request): Promise<ThreadsResponse> => {
    const principal = await requirePrincipal(request, auth);
    const { limit, before } = parseInput(PageQuery, request.query);
    const page = await conversations.listThreads(principal.userId, {
      limit,
      before: before === undefined ? undefined : threadCursor.decode(before),
    });
    return {
      threads: page.items.map(toSummary),
      nextBefore: page.next === undefined ? null : threadCursor.encode(page.next),
    };
  });

  app.get('/threads/:id', async (request): Promise<ThreadResponse> => {
    const principal = await requirePrincipal(request, auth);
    const { id } = parseInput(IdParams, request.params);
    const thread = await conversations.getThread(principal.userId, id);
    if (thread === undefined) throw notFound('thread');
    const threadRuns = await history.listRuns(principal.userId, id);
    return {
      thread: {
        ...toSummary(thread),
        runs: threadRuns.map((r) => ({
          id: r.id,
          status: r.status,
          errorCode: r.errorCode,
          lastSeq: r.lastSeq,
          createdAt: r.createdAt,
          updatedAt: r.updatedAt,
        })),
      },
    };
  });

  app.patch('/threads/:id', async (request): Promise<{ thread: ThreadSummary }> => {
    const principal = await requirePrincipal(request, auth);
    const { id } = parseInput(IdParams, request.params);
    const { title } = parseInput(RenameThreadBody, request.body);
    if (!(await conversations.renameThread(principal.userId, id, title))) throw notFound('thread');
    const thread = await conversations.getThread(principal.userId, id);
    if (thread === undefined) throw notFound('thread');
    return { thread: toSummary(thread) };
  });

  app.delete('/threads/:id', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    const { id } = parseInput(IdParams, request.params);
    await deleteThread({ runs, conversations }, principal.userId, id);
    return reply.status(204).send();
  });

  app.get('/threads/:id/messages', async (request): Promise<MessagesResponse> => {
    const principal = await requirePrincipal(request, auth);
    const { id } = parseInput(IdParams, request.params);
    const { limit, before } = parseInput(PageQuery, request.query);
    if ((await conversations.getThread(principal.userId, id)) === undefined) throw notFound('thread');
    const page = await conversations.listMessages(principal.userId, id, {
      limit,
      before: before === undefined ? undefined : messageCursor.decode(before),
    });
    return {
      messages: page.items.map((m) => ({
        id: m.id,
        role: m.role,
        text: m.text,
        runId: m.runId,
        createdAt: m.createdAt,
      })),
      nextBefore: page.next === undefined ? null : messageCursor.encode(page.next),
    };
  });

  app.get('/runs/:id/events', async (request): Promise<RunEventsResponse> => {
    const principal = await requirePrincipal(request, auth);
    const { id } = parseInput(IdParams, request.params);
    const { after } = parseInput(RunEventsQuery, request.query);
    const { events, run } = await history.eventsAfter(principal.userId, id, after);
    return { runId: run.id, status: run.status, events };
  });

  app.post('/runs/:id/cancel', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    const { id } = parseInput(IdParams, request.params);
    await runs.cancel(principal.userId, id);
    const body: CancelResponse = { runId: id, status: 'cancelling' };
    return reply.status(202).send(body);
  });

  app.post('/runs/:id/approvals/:toolCallId', async (request): Promise<ApprovalResponse> => {
    const principal = await requirePrincipal(request, auth);
    const { id, toolCallId } = parseInput(ApprovalParams, request.params);
    const { approved } = parseInput(ApprovalBody, request.body);
    await runs.decideApproval(principal.userId, id, toolCallId, approved);
    return { runId: id, toolCallId, approved };
  });
}

function toSummary(t: ThreadRecord): ThreadSummary {
  return { id: t.id, title: t.title, createdAt: t.createdAt, updatedAt: t.updatedAt };
}
