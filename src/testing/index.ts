export { registerUser, request } from './http-client.js';
export type { HttpResult } from './http-client.js';
export { createTestApp } from './test-app.js';
export type { TestApp } from './test-app.js';
export { TestSocket, wsUrl } from './ws-client.js';
export { SkewedClock } from './skewed-clock.js';
export { testRunEvent, testRunLog } from './run-events.js';
export { freePort } from './free-port.js';
