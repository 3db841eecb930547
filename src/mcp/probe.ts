import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { McpServerConfig } from '../config/index.js';
import { McpConnection } from './connection.js';
import { transportFor } from './transports.js';

/** What check-config says about one server: its tool count, or why it did not start. */
export type ProbeResult =
  { readonly name: string; readonly tools: number } | { readonly name: string; readonly error: string };

/**
 * Starts each server once (stdio ones in a throwaway directory, so DATA_DIR stays untouched), lists its tools and
 * stops it. Errors name the server and the cause, never its env or headers.
 */
export async function probeServers(configs: readonly McpServerConfig[], timeoutMs: number): Promise<ProbeResult[]> {
  return Promise.all(
    configs.map(async (config): Promise<ProbeResult> => {
      const dir = mkdtempSync(join(tmpdir(), `agentgate-mcp-${config.name}-`));
      try {
        const connection = await McpConnection.open(transportFor(config, { dir, onStderr: () => {} }), timeoutMs, {
          onToolsChanged: () => {},
          onClosed: () => {},
          onError: () => {},
        });
        const tools = connection.tools.length;
        await connection.close();
        return { name: config.name, tools };
      } catch (err) {
        return { name: config.name, error: err instanceof Error ? err.message : String(err) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }),
  );
}
