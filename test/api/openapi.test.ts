import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { API_ROUTES, buildOpenApiDocument, createHttpApp, registeredRoutesOf } from '../../src/http/index.js';
import type { HttpDeps } from '../../src/http/context.js';
import { openApiPath, recordRoutes } from '../../src/http/openapi/index.js';
import { webRoutes } from '../../src/http/routes/web.js';
import { createTestApp, registerUser, request, type TestApp } from '../../src/testing/index.js';
import { converse } from './helpers.js';

const committed = JSON.parse(readFileSync(new URL('../../docs/schemas/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
};

const routeKey = (method: string, path: string): string => `${method} ${path}`;

/** The HTTP app with stand-in dependencies: enough to register every route (OIDC on), none is called. */
async function registeredRoutes(): Promise<string[]> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: '/nonexistent' });
  const deps = {
    config,
    publicUrl: () => 'http://127.0.0.1:1',
    webSocketUrl: () => 'ws://127.0.0.1:1/ws',
    oidc: { displayName: 'SSO', signIn: {} },
    isOriginAllowed: () => false,
    trustProxy: () => false,
  } as unknown as HttpDeps;
  const app = createHttpApp(deps, pino({ level: 'silent' }));
  await app.ready();
  // The page's own files (from the build, when there is one) are not API: only `/` is documented.
  const web = Fastify();
  recordRoutes(web);
  webRoutes(web, deps);
  const pageFiles = new Set(registeredRoutesOf(web).map((r) => routeKey(r.method, r.path)));
  pageFiles.delete('GET /');
  const routes = registeredRoutesOf(app).filter(
    (r) =>
      // fastify answers HEAD for every GET, and @fastify/cors answers preflights on every path.
      r.method !== 'HEAD' && !(r.method === 'OPTIONS' && r.path === '*') && !pageFiles.has(routeKey(r.method, r.path)),
  );
  await app.close();
  return routes.map((r) => routeKey(r.method, r.path)).sort();
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 (and the validator does refuse a broken one)', async () => {
    const validator = new Validator();
    const result = await validator.validate(buildOpenApiDocument({ serverUrl: 'https://agentgate.example' }));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');

    const broken = structuredClone(committed);
    (broken.paths['/threads'] as { get: { responses: unknown } }).get.responses = 'none';
    expect((await new Validator().validate(broken as never)).valid).toBe(false);
  });

  it('describes exactly the routes the server registers', async () => {
    const documented = API_ROUTES.map((r) => routeKey(r.method, r.path)).sort();
    expect(new Set(documented).size).toBe(documented.length);
    expect(await registeredRoutes()).toEqual(documented);
    // ...and the document has each of them, and nothing else.
    const inDocument = Object.entries(buildOpenApiDocument().paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => routeKey(method.toUpperCase(), path)),
    );
    expect(inDocument.sort()).toEqual(API_ROUTES.map((r) => routeKey(r.method, openApiPath(r.path))).sort());
  });

  it('has unique operation ids, and an error body for every error status', () => {
    const document = buildOpenApiDocument();
    const operations = Object.values(document.paths).flatMap((ops) => Object.values(ops));
    const ids = operations.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const op of operations) {
      for (const [status, response] of Object.entries(op.responses as Record<string, { content?: unknown }>)) {
        if (Number(status) >= 400 && op.operationId !== 'getReadiness')
          expect(response.content, `${String(op.operationId)} ${status}`).toEqual({
            'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } },
          });
      }
    }
  });
});

describe('GET /openapi.json on a live server', () => {
  let app: TestApp;
  let served: ReturnType<typeof buildOpenApiDocument>;
  let ajv: Ajv2020;
  beforeAll(async () => {
    app = await createTestApp();
    const res = await request<typeof served>(app.url, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    served = res.body;
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema(served, 'openapi.json');
  });
  afterAll(async () => {
    await app?.close();
  });

  /** The validator of a response of the document: `GET /threads/{id}` 200. */
  const responseValidator = (method: string, path: string, status: number): ValidateFunction => {
    const pointer = `#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
    const validate = ajv.getSchema(`openapi.json${pointer}`);
    if (validate === undefined) throw new Error(`no schema for ${method} ${path} ${status}`);
    return validate;
  };
  const expectValid = (method: string, path: string, status: number, body: unknown): void => {
    const validate = responseValidator(method, path, status);
    expect(validate(body), `${method} ${path} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true);
  };

  it('is the committed document, with this server as its server, and needs no credential', () => {
    const { servers, ...rest } = served as typeof served & { servers?: unknown };
    expect(servers).toEqual([{ url: app.url }]);
    expect(rest).toEqual(committed);
  });

  it('describes what the server really answers', async () => {
    const user = await registerUser(app.url, 'openapi');
    const token = user.accessToken;
    expectValid('POST', '/auth/register', 201, user);
    const call = async (method: string, path: string, documented: string, status: number, body?: unknown) => {
      const res = await request(app.url, method, path, { token, ...(body === undefined ? {} : { body }) });
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(status);
      expectValid(method, documented, status, res.body);
      return res.body;
    };
    const login = await call('POST', '/auth/login', '/auth/login', 200, { email: user.email, password: user.password });
    expect(login).toMatchObject({ tokenType: 'Bearer' });
    await call('GET', '/auth/me', '/auth/me', 200);
    await call('GET', '/auth/sessions', '/auth/sessions', 200);
    await call('GET', '/auth/providers', '/auth/providers', 200);
    await call('GET', '/.well-known/jwks.json', '/.well-known/jwks.json', 200);
    await call('POST', '/ws/ticket', '/ws/ticket', 201, {});
    await call('GET', '/ws/health', '/ws/health', 200);
    await call('GET', '/ws/config', '/ws/config', 200);
    await call('GET', '/health/live', '/health/live', 200);
    await call('GET', '/health/ready', '/health/ready', 200);

    const { runId, threadId } = await converse(app.url, token, 'calculate 6*7');

    await call('GET', '/threads', '/threads', 200);
    await call('GET', `/threads/${threadId}`, '/threads/{id}', 200);
    await call('GET', `/threads/${threadId}/messages`, '/threads/{id}/messages', 200);
    await call('PATCH', `/threads/${threadId}`, '/threads/{id}', 200, { title: 'Renamed' });
    const events = await call('GET', `/runs/${runId}/events?after=0`, '/runs/{id}/events', 200);
    expect((events as { events: unknown[] }).events.length).toBeGreaterThan(3);

    // Error answers: the documented status, with the error body.
    await call('GET', '/threads/nope', '/threads/{id}', 404);
    await call('POST', `/runs/${runId}/cancel`, '/runs/{id}/cancel', 409);
    await call('POST', '/auth/register', '/auth/register', 409, { email: user.email, password: user.password });
    await call('GET', '/threads?limit=0', '/threads', 400);
    const anonymous = await request(app.url, 'GET', '/threads');
    expect(anonymous.status).toBe(401);
    expectValid('GET', '/threads', 401, anonymous.body);
  });
});
