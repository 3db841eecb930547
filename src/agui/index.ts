export { parseRunAgentInput } from './input.js';
export type { AguiRunRequest } from './input.js';
export { AguiMapper } from './mapper.js';
