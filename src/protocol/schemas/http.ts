import { z } from 'zod';
import {
  PAGE_LIMITS,
  type ChangePasswordRequest,
  type LoginRequest,
  type RefreshRequest,
  type RegisterRequest,
  type TicketRequest,
} from '../wire/index.js';
import type { SameShape } from './same-shape.js';

/** Request bodies of the HTTP API, checked at run time. Unknown fields are ignored, never trusted. */
export const EmailSchema = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'email must be a valid address' }));
export const PasswordSchema = z
  .string()
  .min(8, { message: 'password must be at least 8 characters' })
  .max(1024, { message: 'password must be at most 1024 characters' });

export const RegisterBody = z.object({
  email: EmailSchema,
  password: PasswordSchema,
  displayName: z.string().trim().min(1).max(100).optional(),
});
export type RegisterBody = z.infer<typeof RegisterBody>;

// Login does not enforce password length rules: a wrong-shaped password is just a wrong password.
export const LoginBody = z.object({ email: z.string().max(254), password: z.string().max(1024) });
export type LoginBody = z.infer<typeof LoginBody>;

export const RefreshBody = z.object({ refreshToken: z.string().min(1).max(512) });
export type RefreshBody = z.infer<typeof RefreshBody>;

export const ChangePasswordBody = z.object({ currentPassword: z.string().max(1024), newPassword: PasswordSchema });
export type ChangePasswordBody = z.infer<typeof ChangePasswordBody>;

/** DELETE /auth/me: the password proves the user is at the keyboard (demo users, who have none, send nothing). */
export const DeleteAccountBody = z.object({ password: z.string().max(1024).optional() });
export type DeleteAccountBody = z.infer<typeof DeleteAccountBody>;

export const LogoutBody = RefreshBody;
export type LogoutBody = RefreshBody;

export const TicketBody = z.object({ ttlSeconds: z.number().int().min(1).max(3600).optional() }).default({});
export type TicketBody = z.infer<typeof TicketBody>;

export const RunEventsQuery = z.object({ after: z.coerce.number().int().min(0).default(0) });

/** POST /runs/:id/approvals/:toolCallId */
export const ApprovalBody = z.object({ approved: z.boolean() });
export type ApprovalBody = z.infer<typeof ApprovalBody>;

export const RenameThreadBody = z.object({ title: z.string().trim().min(1).max(200) });
export type RenameThreadBody = z.infer<typeof RenameThreadBody>;

/** The query of a paged list (wire type PageParams): query strings arrive as text, so `limit` is coerced. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(PAGE_LIMITS.max).default(PAGE_LIMITS.default),
  before: z.string().min(1).max(512).optional(),
});

/** A route id (`:id`): 1-128 characters, like the ids clients may mint (docs/PROTOCOL.md "Conventions"). */
const routeId = z.string().min(1).max(128);
export const IdParams = z.object({ id: routeId });
export const ApprovalParams = IdParams.extend({ toolCallId: routeId });

/** GET /runs/:id/stream. A `Last-Event-ID` header wins over `after`. */
export const StreamQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  format: z.enum(['agentgate', 'agui']).default('agentgate'),
});
export const LastEventIdHeader = z.coerce.number().int().min(0);

/**
 * The OIDC routes check their input in the sign-in flow itself (src/auth), not with a schema: these two only
 * describe it for the OpenAPI document.
 */
export const OidcStartQuery = z.object({
  returnTo: z.string().optional().meta({ description: 'A path starting with one `/`; anything else is `/`.' }),
});
export const OidcExchangeBody = z.object({ code: z.string() });

const _register: SameShape<RegisterBody, RegisterRequest> = true;
const _login: SameShape<LoginBody, LoginRequest> = true;
const _refresh: SameShape<RefreshBody, RefreshRequest> = true;
const _ticket: SameShape<TicketBody, TicketRequest> = true;
const _changePassword: SameShape<ChangePasswordBody, ChangePasswordRequest> = true;
void [_register, _login, _refresh, _ticket, _changePassword];
