// Run-time checks of untrusted input (zod), each held to the plain type it checks in ../wire at compile time.
export * from './events.js';
export * from './http.js';
export * from './ws.js';
export * from './nul.js';
