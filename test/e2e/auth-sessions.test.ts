// POST /auth/refresh input validation (CONTRACT.md "HTTP API"). Rotation, reuse detection, logout and revocation
// are attacked in test/attacks/revocation.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, request, type HttpResult, type TestApp } from '../../src/testing/index.js';

type ErrorBody = { error: { code: string; message: string } };
const codeOf = (res: HttpResult<unknown>): string | undefined =>
  (res.body as Partial<ErrorBody> | undefined)?.error?.code;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe('POST /auth/refresh', () => {
  it('contract: a missing or empty refreshToken is 400 invalid_request', async () => {
    for (const body of [{}, { refreshToken: '' }, { refreshToken: 42 }]) {
      const res = await request(app.url, 'POST', '/auth/refresh', { body });
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('invalid_request');
    }
  });
});
