import { AppError } from '../errors/index.js';

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 b64token syntax), or invalid_token. */
export function parseBearerHeader(header: string): string {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (match?.[1] === undefined)
    throw new AppError('invalid_token', 'The Authorization header must be "Bearer <access token>".');
  return match[1];
}
