import { createInterface, type Interface } from 'node:readline';
import type { Writable } from 'node:stream';
import { ClientError, type AgentgateClient, type RunHandle } from '../../client/node.js';
import { approvalPolicy, ToolApprover, type ApprovalPolicy } from '../approvals.js';
import { parseCommand } from '../args.js';
import { JsonView, PlainView, TerminalView, type ChatView } from '../chat-view.js';
import { EXIT, EXIT_CODES_HELP } from '../exit-codes.js';
import { print, type CliIo } from '../io.js';
import { LOGIN_HELP, LOGIN_OPTIONS, loggedInClient, reportClientError } from '../login.js';

export const CHAT_HELP = `Usage: agentgate chat [--url URL] (--email EMAIL | --demo) [--thread ID] [--json] [--approve-tools]
  Talks to the agent. On a terminal: type a message, watch the agent think (dimmed), run tools (spinner)
  and stream its answer; /new starts a new thread, /exit or Ctrl-D quits; Ctrl-C cancels the run in
  progress, and quits when no run is (or when pressed again).
  Through a pipe: each line of stdin is one message, sent after the previous run ended, in one thread;
  events are printed as plain lines ("[thinking] …", "[tool] …", the answer, "[error] …") and connection
  news goes to stderr. It exits once stdin has ended and the last run has ended.
    echo "calculate 12*7" | agentgate chat --demo
  A tool call that needs approval (the server's TOOLS_REQUIRING_APPROVAL) is asked about when stdin is a
  terminal: Allow calculator {"expression":"6 * 7"}? [y/N] (y approves, anything else denies). When stdin is
  not a terminal, every such call is denied, with a line saying so, unless --approve-tools is given.
${LOGIN_HELP}
  --thread ID      continue this thread (default: a new one)
  --json           print every run event as one JSON line on stdout instead
  --approve-tools  approve every tool call that asks for approval, without asking (each one is printed)

${EXIT_CODES_HELP}
  chat: 0 every run completed, 1 a run ended in error or was refused, or the server could not be reached,
  2 usage error, 3 login refused or the session ended, 130 interrupted with Ctrl-C.`;

export async function chat(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(args, {
    ...LOGIN_OPTIONS,
    thread: { type: 'string' },
    json: { type: 'boolean' },
    'approve-tools': { type: 'boolean' },
  });
  if (parsed === undefined) return (print(io.stdout, CHAT_HELP), EXIT.ok);
  const interactive = io.stdin.isTTY === true && io.stdout.isTTY === true && parsed.values.json !== true;
  let client: AgentgateClient;
  try {
    client = await loggedInClient(parsed.values, io, {
      passwordFromStdin: false,
      client: { reconnect: { maxAttempts: 8 } },
    });
    await client.connect();
  } catch (err) {
    return reportClientError(io, err);
  }
  // NO_COLOR (no-color.org): present and not empty turns colours off.
  const color = (io.env.NO_COLOR ?? '') === '';
  const view: ChatView = interactive
    ? new TerminalView(io.stdout, color)
    : parsed.values.json === true
      ? new JsonView(io.stdout, io.stderr)
      : new PlainView(io.stdout, io.stderr);
  const stopWatching = client.onStateChange((state, detail) => view.connection(state, detail));
  view.note(
    `Signed in as ${client.user?.email ?? '?'}. Type a message; /new starts a new thread, /exit or Ctrl-D quits, Ctrl-C cancels a run.`,
  );
  const policy = approvalPolicy(parsed.values['approve-tools'] === true, io.stdin.isTTY === true);
  const code = await new Conversation(client, view, interactive, parsed.values.thread, policy).run(io);
  stopWatching();
  view.close();
  client.close();
  return code;
}

/** One chat session: lines in, one run at a time, until the input ends or the person quits. */
class Conversation {
  private readonly queue: string[] = [];
  private current: RunHandle | undefined;
  private cancelling = false;
  private inputEnded = false;
  private failed = false;
  private interrupted = false;
  private finish!: (code: number) => void;
  private lines: Interface | undefined;
  private readonly approver: ToolApprover;
  /** Where a question goes: readline's own output on a terminal, stderr otherwise (stdout may be a log or JSON). */
  private questionOut: Writable | undefined;
  /** Ends the question being asked without an answer (the input ended). */
  private unanswered: (() => void) | undefined;

  constructor(
    private readonly client: AgentgateClient,
    private readonly view: ChatView,
    private readonly interactive: boolean,
    private threadId: string | undefined,
    policy: ApprovalPolicy,
  ) {
    this.approver = new ToolApprover({
      policy,
      ask: (question, signal) => this.ask(question, signal),
      decide: (runId, toolCallId, approved) => this.client.approve(runId, toolCallId, approved),
      report: (text) => this.view.approval(text),
    });
  }

  run(io: CliIo): Promise<number> {
    const finished = new Promise<number>((resolve) => (this.finish = resolve));
    this.questionOut = this.interactive ? io.stdout : io.stderr;
    const lines = createInterface({
      input: io.stdin,
      ...(this.interactive ? { output: io.stdout, prompt: 'you › ', terminal: true } : { terminal: false }),
      crlfDelay: Infinity,
    });
    this.lines = lines;
    lines.on('line', (line) => this.receive(line));
    lines.on('close', () => {
      this.inputEnded = true;
      this.unanswered?.();
      this.pump();
    });
    // A terminal's Ctrl-C reaches readline as a key; a pipe's reaches the process as SIGINT.
    lines.on('SIGINT', () => this.interrupt());
    const stopListening = io.onSignal('SIGINT', () => this.interrupt());
    this.client.onStateChange((state, detail) => {
      if (state === 'closed' && detail?.error !== undefined && this.client.user === null) this.end(EXIT.auth);
    });
    this.prompt();
    return finished.finally(() => {
      stopListening();
      lines.close();
    });
  }

  private receive(raw: string): void {
    const text = raw.trim();
    if (text === '/exit' || text === '/quit') return this.end(this.outcome());
    if (text === '/new') {
      this.threadId = undefined;
      this.view.note('New thread.');
      return this.prompt();
    }
    if (text === '') return this.current === undefined ? this.prompt() : undefined;
    this.queue.push(text);
    this.pump();
  }

  /** Starts the next queued message when no run is going; ends the session once input and runs are done. */
  private pump(): void {
    if (this.current !== undefined) return;
    const text = this.queue.shift();
    if (text === undefined) {
      if (this.inputEnded) this.end(this.outcome());
      return;
    }
    this.view.sent(text);
    const handle = this.client.run(text, this.threadId === undefined ? {} : { threadId: this.threadId });
    this.current = handle;
    void this.follow(handle).finally(() => {
      this.current = undefined;
      this.cancelling = false;
      this.prompt();
      this.pump();
    });
  }

  private async follow(handle: RunHandle): Promise<void> {
    try {
      for await (const event of handle) {
        // The approver first: a resolved call ends its question before the view prints the outcome below it.
        this.approver.event(event);
        this.view.event(event);
      }
      this.threadId = (await handle.accepted).threadId;
      if ((await handle.done).type !== 'agent_completed') this.failed = true;
    } catch (err) {
      this.failed = true;
      if (!(err instanceof ClientError)) throw err;
      this.view.failure(err.code, err.message);
    }
  }

  /** One y/N question on the input; the next line typed is its answer, not a message. */
  private ask(question: string, signal: AbortSignal): Promise<string | undefined> {
    const lines = this.lines;
    if (lines === undefined || this.inputEnded) return Promise.resolve(undefined);
    // Off a terminal readline has no output to show the question on.
    if (!this.interactive) this.questionOut?.write(question);
    return new Promise((resolve) => {
      const settle = (answer: string | undefined): void => {
        signal.removeEventListener('abort', onAbort);
        this.unanswered = undefined;
        resolve(answer);
      };
      // Decided elsewhere (or expired): readline ends the question's line on a terminal; on stderr it is ours to end.
      const onAbort = (): void => {
        if (!this.interactive) this.questionOut?.write('\n');
        settle(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.unanswered = () => settle(undefined);
      lines.question(this.interactive ? question : '', { signal }, (answer) => settle(answer));
    });
  }

  /** Ctrl-C: cancel the run in progress; with none (or pressed again) quit. */
  private interrupt(): void {
    if (this.current === undefined || this.cancelling) return this.end(EXIT.interrupted);
    this.cancelling = true;
    this.view.note('Cancelling… (Ctrl-C again to quit)');
    if (!this.interactive) {
      // A pipe's Ctrl-C means stop: no further lines are sent.
      this.queue.length = 0;
      this.inputEnded = true;
      this.interrupted = true;
    }
    this.current
      .cancel()
      .catch((err: unknown) =>
        this.view.failure(
          err instanceof ClientError ? err.code : 'internal_error',
          err instanceof Error ? err.message : String(err),
        ),
      );
  }

  private outcome(): number {
    return this.interrupted ? EXIT.interrupted : this.failed ? EXIT.failure : EXIT.ok;
  }

  private prompt(): void {
    if (this.interactive && this.current === undefined && !this.inputEnded) this.lines?.prompt();
  }

  private end(code: number): void {
    this.finish(code);
  }
}
