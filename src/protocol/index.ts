// The server's view of the protocol: the wire vocabulary, the schemas that check input, the encoder and the
// event-order verifier. The SDK and the page import ./wire/index.js alone (no zod in the browser bundle).
export * from './wire/index.js';
export * from './schemas/index.js';
export * from './encode.js';
export * from './verify.js';
export * from './json-schemas.js';
