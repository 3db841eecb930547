import type { FastifyInstance } from 'fastify';
import type { LivenessResponse, ReadinessResponse } from '../../protocol/index.js';
import type { HttpDeps } from '../context.js';

export function healthRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/health/live', async (): Promise<LivenessResponse> => ({ status: 'ok' }));

  app.get('/health/ready', async (_request, reply) => {
    const results = await Promise.all(
      Object.entries(deps.readiness).map(async ([name, check]) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch {
          // The reason stays in the logs of the component: this endpoint is public.
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const failing = results.filter(([, s]) => s !== 'ok').map(([n]) => n);
    const informational = Object.entries(deps.informational()).map(
      ([name, up]) => [name, up ? 'ok' : 'unavailable'] as const,
    );
    const degraded = informational.filter(([, s]) => s !== 'ok').map(([n]) => n);
    const body: ReadinessResponse = {
      status: failing.length === 0 ? 'ok' : 'unavailable',
      components: Object.fromEntries([...results, ...informational]),
      ...(failing.length > 0 ? { failing } : {}),
      ...(degraded.length > 0 ? { degraded } : {}),
    };
    return reply.status(failing.length === 0 ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await deps.metrics();
    return reply.header('Content-Type', contentType).send(body);
  });
}
