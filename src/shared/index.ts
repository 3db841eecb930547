// Mechanisms shared by more than one domain, with no domain of their own.
export { SLOW_READER_GRACE_MS, SlowReaderWatch } from './slow-reader.js';
export { withTimeout } from './timeout.js';
