import { spawn, type ChildProcess } from 'node:child_process';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export interface StdioProcessOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** The process's whole environment: nothing of agentgate's own is added. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Each line the server writes to stderr (its logs). */
  readonly onStderr: (line: string) => void;
}

/** How long a server gets to exit after its stdin closes, and then after SIGTERM, before SIGKILL. */
const EXIT_GRACE_MS = 2_000;

/**
 * The MCP stdio transport with an exact environment. The SDK's StdioClientTransport always adds its own list of
 * inherited variables (USER, SHELL, TERM...); the contract gives a server only PATH, HOME and its entry's `env`.
 * Framing is the SDK's (ReadBuffer, serializeMessage): only the spawning differs.
 */
export class StdioProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private child: ChildProcess | undefined;
  private readonly buffer = new ReadBuffer();

  constructor(private readonly options: StdioProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    const { command, args, env, cwd, onStderr } = this.options;
    return new Promise((resolve, reject) => {
      const child = spawn(command, [...args], { env: { ...env }, cwd, stdio: ['pipe', 'pipe', 'pipe'], shell: false });
      this.child = child;
      // `on`, not `once`: a second error (a kill that fails after a spawn error) with no listener would crash Node.
      child.on('error', (err) => {
        reject(err);
        this.onerror?.(err);
      });
      child.once('spawn', () => resolve());
      child.once('close', () => {
        this.child = undefined;
        this.onclose?.();
      });
      child.stdin?.on('error', (err) => this.onerror?.(err));
      child.stdout?.on('data', (chunk: Buffer) => {
        this.buffer.append(chunk);
        this.drain();
      });
      let partial = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') onStderr(line);
      });
    });
  }

  private drain(): void {
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.buffer.readMessage();
      } catch (err) {
        // A line that is not JSON-RPC: the server printed something else on stdout. Skip it, as the SDK does.
        this.onerror?.(err as Error);
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (stdin === undefined || stdin === null || stdin.destroyed) return Promise.reject(new Error('Not connected'));
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', () => resolve());
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const within = (ms: number): Promise<void> =>
      Promise.race([closed, new Promise<void>((r) => setTimeout(r, ms).unref())]);
    child.stdin?.end();
    await within(EXIT_GRACE_MS);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await within(EXIT_GRACE_MS);
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    this.buffer.clear();
  }
}
