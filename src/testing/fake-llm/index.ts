export { anthropicError, anthropicReply, anthropicToolCall } from './anthropic-wire.js';
export { FakeLlmServer, refusingUrl } from './fake-llm-server.js';
export type { FakeProtocol, FakeReply } from './fake-llm-server.js';
export { openAiError, openAiReply, openAiToolCall } from './openai-wire.js';
