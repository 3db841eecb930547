import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** Where a command reads and writes: the process's streams in main.ts, pipes in tests. */
export interface CliIo {
  readonly stdin: Readable & { readonly isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  readonly stdout: Writable & { readonly isTTY?: boolean; readonly columns?: number };
  readonly stderr: Writable;
  /** The environment (settings for server commands; AGENTGATE_* for client commands). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** SIGINT (Ctrl-C) or SIGTERM: returns a function that stops listening. */
  readonly onSignal: (signal: 'SIGINT' | 'SIGTERM', listener: () => void) => () => void;
}

export function print(stream: Writable, text: string): void {
  stream.write(`${text}\n`);
}

/** The first line of stdin (a password piped in), without its line ending. */
export async function readFirstLine(stdin: Readable): Promise<string> {
  const lines = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) return line;
    return '';
  } finally {
    lines.close();
  }
}

/**
 * Asks for a secret on a terminal without echoing it. Ctrl-C rejects (the caller exits 130); Ctrl-D or Enter ends
 * the input.
 */
export function promptHidden(io: CliIo, question: string): Promise<string> {
  const { stdin } = io;
  return new Promise((resolve, reject) => {
    io.stderr.write(question);
    let secret = '';
    stdin.setRawMode?.(true);
    stdin.setEncoding('utf8');
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\u0003') return (done(), reject(new InterruptedError()));
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return (done(), resolve(secret));
        if (ch === '\u007f' || ch === '\b') secret = secret.slice(0, -1);
        else secret += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
  }
}

/** An error's message, with its cause's when it has one (a failed connection says why). */
export function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
