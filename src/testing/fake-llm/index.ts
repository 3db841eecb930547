export { anthropicError, anthropicReply, anthropicStream } from './anthropic-wire.js';
export type { AnthropicStreamScript, AnthropicToolUseScript } from './anthropic-wire.js';
export { errorBody, FakeLlmServer, refusingUrl } from './fake-llm-server.js';
export type { FakeProtocol, FakeReply, RecordedRequest } from './fake-llm-server.js';
export { openAiError, openAiReply, openAiStream } from './openai-wire.js';
export type { OpenAiStreamScript, OpenAiToolCallScript } from './openai-wire.js';
