import type { FastifyInstance } from 'fastify';

/** A route as the server registered it: method and fastify path (`/threads/:id`). */
export interface RegisteredRoute {
  readonly method: string;
  readonly path: string;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/**
 * Records every route registered on `app` from now on (call it before any route), so that a test can hold the
 * route table (API_ROUTES) to what the server really serves. Complete once `app.ready()` has resolved (plugins
 * register theirs then).
 */
export function recordRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, path: route.url });
  });
}

/** The routes recorded on `app` (empty when recordRoutes was not called on it). */
export function registeredRoutesOf(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}
