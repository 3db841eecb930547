export { AppError, isAppError, notFound } from './app-error.js';
export { CLOSE, ERROR_CODES, httpStatusOf, isErrorCode } from './codes.js';
export type { CloseKind, ErrorCode } from './codes.js';
export { writeRawError } from './raw-response.js';
