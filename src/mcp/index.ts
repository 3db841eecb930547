// Tools from MCP servers (MCP_CONFIG): stdio and Streamable HTTP, shared or one session per user, as one ToolSource.
export { McpToolbox } from './toolbox.js';
export type { McpToolboxOptions } from './toolbox.js';
export type { IdentitySubject } from './toolbox.js';
export { probeServers } from './probe.js';
export type { ProbeResult } from './probe.js';
