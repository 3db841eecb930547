export { anthropicError, anthropicReply } from './anthropic-wire.js';
export { FakeLlmServer, refusingUrl } from './fake-llm-server.js';
export type { FakeProtocol, FakeReply } from './fake-llm-server.js';
export { openAiError, openAiReply } from './openai-wire.js';
