export * from './events.js';
export * from './http.js';
export * from './verify.js';
export * from './ws.js';
export * from './encode.js';
