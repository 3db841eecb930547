// Mechanisms shared by more than one domain, with no domain of their own.
export { SlowReaderWatch } from './slow-reader.js';
export { withTimeout } from './timeout.js';
