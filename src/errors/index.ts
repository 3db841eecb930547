export { AppError, isAppError, notFound } from './app-error.js';
export { ERROR_CODES, httpStatusOf } from './codes.js';
export type { ErrorCode } from './codes.js';
export { writeRawError } from './raw-response.js';
