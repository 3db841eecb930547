import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/index.js';
import {
  ChangePasswordBody,
  DeleteAccountBody,
  IdParams,
  LoginBody,
  LogoutBody,
  RefreshBody,
  RegisterBody,
  type MeResponse,
  type SessionsResponse,
} from '../../protocol/index.js';
import { stopRuns } from '../../runs/index.js';
import { requirePrincipal, type HttpDeps } from '../context.js';
import { parseInput } from '../errors.js';

export function authRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { auth } = deps;

  app.post('/auth/register', async (request, reply) => {
    const body = parseInput(RegisterBody, request.body);
    return reply.status(201).send(await auth.register(body, request.ip));
  });

  app.post('/auth/login', async (request) => auth.login(parseInput(LoginBody, request.body), request.ip));

  app.post('/auth/refresh', async (request) =>
    auth.refresh(parseInput(RefreshBody, request.body).refreshToken, request.ip),
  );

  app.post('/auth/logout', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    await auth.logout(principal, parseInput(LogoutBody, request.body).refreshToken);
    return reply.status(204).send();
  });

  app.post('/auth/demo', async (request, reply) => {
    if (!deps.config.demoMode) throw new AppError('not_found', 'Demo mode is off.');
    return reply.status(201).send(await auth.demo(request.ip));
  });

  app.get('/auth/me', async (request): Promise<MeResponse> => ({
    user: await auth.currentUser(await requirePrincipal(request, auth)),
  }));

  // Everything of the user goes: their runs in progress are stopped first, so nothing writes into a deleted account.
  app.delete('/auth/me', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    const { password } = parseInput(DeleteAccountBody, request.body);
    await auth.confirmIdentity(principal, password, request.ip);
    await stopRuns(deps.runs, principal.userId);
    await auth.deleteAccount(principal);
    return reply.status(204).send();
  });

  app.get('/auth/sessions', async (request): Promise<SessionsResponse> => ({
    sessions: await auth.sessions(await requirePrincipal(request, auth)),
  }));

  app.delete('/auth/sessions/:id', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    await auth.endSession(principal, parseInput(IdParams, request.params).id);
    return reply.status(204).send();
  });

  // "Log out everywhere": this login too.
  app.delete('/auth/sessions', async (request, reply) => {
    await auth.endAllSessions(await requirePrincipal(request, auth));
    return reply.status(204).send();
  });

  app.post('/auth/password', async (request, reply) => {
    const principal = await requirePrincipal(request, auth);
    const body = parseInput(ChangePasswordBody, request.body);
    return reply.header('Cache-Control', 'no-store').send(await auth.changePassword(principal, body, request.ip));
  });

  app.get('/auth/stats', async (request) => {
    const principal = await requirePrincipal(request, auth);
    if (!(await auth.isAdmin(principal))) throw new AppError('forbidden', 'Admins only.');
    return auth.stats();
  });

  app.get('/.well-known/jwks.json', async (_request, reply) =>
    reply.header('Cache-Control', 'public, max-age=300').send(deps.jwks),
  );
}
