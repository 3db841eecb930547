export { AguiAgent } from './agui-agent.js';
export type { AguiAgentDeps, AguiAgentSettings } from './agui-agent.js';
