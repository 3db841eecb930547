/**
 * The agentgate client SDK, for browsers and Node (see docs/SDK.md). Universal: fetch, a WebSocket constructor and
 * timers only. In Node use ./node.js, which adds the `ws` package and Bearer-header connections.
 */
export { AgentgateClient, SUBPROTOCOL } from './client.js';
export { ClientError, closeRuleOf, isClientError } from './errors.js';
export type { ClientErrorCode, CloseErrorCode, CloseRule, ReconnectRule } from './errors.js';
export type {
  ActiveRun,
  AguiEventPayload,
  ApprovalReason,
  AuthMethod,
  ChatMessage,
  ClientOptions,
  ConnectionState,
  HandshakeRefusal,
  AuthProvider,
  MessageAdded,
  MessagePage,
  PageParams,
  PendingApproval,
  PublicUser,
  ReconnectOptions,
  RunEvent,
  RunHandle,
  RunOptions,
  SessionSummary,
  StateDetail,
  StateListener,
  TerminalEvent,
  Thread,
  ThreadMessage,
  ThreadPage,
  WebSocketConstructorLike,
  WebSocketLike,
} from './types.js';
