import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/index.js';
import {
  AUTH_METHODS,
  TicketBody,
  WS_PATH,
  type TicketResponse,
  type WsConfigResponse,
  type WsHealthResponse,
} from '../../protocol/index.js';
import { requirePrincipal, type HttpDeps } from '../context.js';
import { parseInput } from '../errors.js';

export function gatewayRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { config } = deps;

  app.post(`${WS_PATH}/ticket`, async (request, reply) => {
    const principal = await requirePrincipal(request, deps.auth);
    const { ttlSeconds } = parseInput(TicketBody, request.body);
    const { ticket, expiresIn } = await deps.tickets.issue(principal, deps.now(), ttlSeconds);
    const url = new URL(deps.webSocketUrl());
    url.searchParams.set('ticket', ticket);
    const body: TicketResponse = { ticket, expiresIn, url: url.toString() };
    return reply.status(201).send(body);
  });

  app.get(`${WS_PATH}/health`, async (): Promise<WsHealthResponse> => ({
    status: 'ok',
    connections: deps.connectionCount(),
    preConnectionAuth: true,
    demoMode: config.demoMode,
  }));

  app.get(`${WS_PATH}/config`, async (): Promise<WsConfigResponse> => ({
    url: deps.webSocketUrl(),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    maxMessageBytes: config.maxMessageBytes,
    ticketTtlSeconds: config.ticketTtlSeconds,
    authMethods: AUTH_METHODS,
  }));

  // A plain GET (no upgrade) reaches the router: say what to do instead of a bare 404.
  app.get(WS_PATH, async (_request, reply) => {
    void reply.header('Upgrade', 'websocket');
    throw new AppError('invalid_request', 'This endpoint only accepts WebSocket upgrades.');
  });
}
