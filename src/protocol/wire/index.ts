// The wire vocabulary: constants and types of every message, event and response, with no schema library, for the
// server, the SDK, the page, the CLI and the tests alike. The zod schemas that check input are in ../schemas.
export * from './close.js';
export * from './events.js';
export * from './http.js';
export * from './ws.js';
