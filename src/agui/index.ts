export { parseRunAgentInput } from './input.js';
export { AguiMapper } from './mapper.js';
