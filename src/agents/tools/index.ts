import { calculatorTool } from './calculator.js';
import { clockTool } from './clock.js';
import { createDocsSearchTool } from './docs-search.js';
import type { Tool } from './tool.js';
import { waitTool } from './wait.js';

export interface BuiltinToolsOptions {
  /** Markdown files and directories `search_docs` searches (for example `docs/` and `README.md`). */
  readonly docsPaths: readonly string[];
}

/** The tools every agent gets; a fresh list (and docs cache) per call, so nothing is shared by accident. */
export function builtinTools(options: BuiltinToolsOptions): Tool[] {
  return [calculatorTool, clockTool, createDocsSearchTool(options.docsPaths), waitTool];
}

export { calculatorTool } from './calculator.js';
export { clockTool, createClockTool } from './clock.js';
export { createDocsSearchTool } from './docs-search.js';
export type { DocsSearchHit } from './docs-search.js';
export { ToolRegistry } from './registry.js';
export { defineTool } from './tool.js';
export type { Tool, ToolContext, ToolErrorCode, ToolOutcome, ToolSource, ToolSpec } from './tool.js';
export { sleep, waitTool } from './wait.js';
