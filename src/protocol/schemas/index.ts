// Run-time checks of untrusted input (zod), and the schemas of what the server answers and sends (published as
// OpenAPI and JSON Schema), each held to the plain type it describes in ../wire at compile time.
export * from './events.js';
export * from './http.js';
export * from './ws.js';
export * from './nul.js';
export * from './responses.js';
export * from './server-messages.js';
