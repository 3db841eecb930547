import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors/index.js';
import {
  LoginBody,
  LogoutBody,
  RefreshBody,
  RegisterBody,
  type AuthProvidersResponse,
  type MeResponse,
} from '../../protocol/index.js';
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

  // Sign-in with an OpenID Connect provider is not configured on this server yet: no provider to offer.
  app.get('/auth/providers', async (): Promise<AuthProvidersResponse> => ({ providers: [] }));

  app.get('/auth/stats', async (request) => {
    const principal = await requirePrincipal(request, auth);
    if (!(await auth.isAdmin(principal))) throw new AppError('forbidden', 'Admins only.');
    return auth.stats();
  });

  app.get('/.well-known/jwks.json', async (_request, reply) =>
    reply.header('Cache-Control', 'public, max-age=300').send(deps.jwks),
  );
}
