import type { Writable } from 'node:stream';
import type { ConnectionState, RunEvent, StateDetail } from '../client/node.js';

/** How `chat` shows a conversation: plain lines for pipes, JSON lines for programs, a live view for terminals. */
export interface ChatView {
  /** A message about to be sent (shown when it was not typed on this terminal). */
  sent(text: string): void;
  event(event: RunEvent): void;
  connection(state: ConnectionState, detail?: StateDetail): void;
  /** A failure that is not a run event (the message was refused, the connection gave up). */
  failure(code: string, message: string): void;
  /** Something for the person at the terminal (notes, hints); nothing on pipes. */
  note(text: string): void;
  /** A tool-approval decision made without asking (and why), or one that could not be sent. */
  approval(text: string): void;
  /** Stops any animation. */
  close(): void;
}

const oneLine = (value: unknown): string =>
  (typeof value === 'string' ? value : (JSON.stringify(value) ?? '')).replace(/\s+/g, ' ');
const clip = (text: string, max = 80): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A tool's result for people: tools answer `{..., result}` objects; the `result` is what matters. */
function resultOf(result: unknown): string {
  const inner = typeof result === 'object' && result !== null && 'result' in result ? result.result : result;
  return oneLine(inner);
}

type Resolved = Extract<RunEvent, { type: 'tool_approval_resolved' }>;

/** `calculator approved`, `calculator denied (expired)`: the run's own word on a tool-approval wait. */
function resolutionOf(tool: string | undefined, e: Resolved): string {
  const name = tool ?? e.toolCallId;
  if (e.approved) return `${name} approved`;
  return `${name} denied${e.reason === 'expired' ? ' (expired)' : e.reason === 'cancelled' ? ' (run ended)' : ''}`;
}

function connectionLine(state: ConnectionState, detail?: StateDetail): string | undefined {
  const why = detail?.error === undefined ? '' : ` (${detail.error.code})`;
  if (state === 'reconnecting')
    return `reconnecting${detail?.retryInMs === undefined ? '' : ` in ${(detail.retryInMs / 1000).toFixed(1)} s`}${why}`;
  if (state === 'offline' || state === 'closed') return detail?.error === undefined ? undefined : `disconnected${why}`;
  return undefined;
}

/** Pipes: one line per thing that happened, the answer streamed as it comes. Connection news goes to stderr. */
export class PlainView implements ChatView {
  private midLine = false;
  /** Tool names by call, for the approval lines (tool_approval_resolved does not repeat the name). */
  private readonly toolNames = new Map<string, string>();

  constructor(
    private readonly out: Writable,
    private readonly err: Writable,
  ) {}

  sent(text: string): void {
    this.line(`> ${text}`);
  }

  event(e: RunEvent): void {
    switch (e.type) {
      case 'agent_thinking':
        return this.line(`[thinking] ${oneLine(e.text)}`);
      case 'tool_executing':
        this.toolNames.set(e.toolCallId, e.tool);
        return this.line(`[tool] ${e.tool} ${oneLine(e.args)}`);
      case 'tool_approval_resolved':
        return this.line(`[approval] ${resolutionOf(this.toolNames.get(e.toolCallId), e)}`);
      case 'tool_completed':
        this.toolNames.delete(e.toolCallId);
        return this.line(
          `[tool] ${e.tool} ${e.error === undefined ? `-> ${clip(resultOf(e.result), 200)}` : `failed: ${e.error.code}`} (${Math.round(e.durationMs)} ms)`,
        );
      case 'agent_message_delta':
        this.out.write(e.text);
        this.midLine = e.text !== '' && !e.text.endsWith('\n');
        return;
      case 'agent_completed':
        return this.endLine();
      case 'agent_error':
        return this.line(`[error] ${e.code}: ${e.message}`);
      case 'run_cancelled':
        return this.line('[cancelled]');
      case 'agent_started':
        return;
    }
  }

  connection(state: ConnectionState, detail?: StateDetail): void {
    const text = connectionLine(state, detail);
    if (text !== undefined) this.err.write(`[connection] ${text}\n`);
  }

  failure(code: string, message: string): void {
    this.line(`[error] ${code}: ${message}`);
  }

  note(): void {}

  approval(text: string): void {
    this.line(`[approval] ${text}`);
  }

  close(): void {
    this.endLine();
  }

  private line(text: string): void {
    this.endLine();
    this.out.write(`${text}\n`);
  }

  private endLine(): void {
    if (this.midLine) this.out.write('\n');
    this.midLine = false;
  }
}

/** `--json`: every run event as one JSON line on stdout, nothing else there. */
export class JsonView implements ChatView {
  constructor(
    private readonly out: Writable,
    private readonly err: Writable,
  ) {}

  sent(): void {}

  event(e: RunEvent): void {
    this.out.write(`${JSON.stringify(e)}\n`);
  }

  connection(state: ConnectionState, detail?: StateDetail): void {
    const text = connectionLine(state, detail);
    if (text !== undefined) this.err.write(`[connection] ${text}\n`);
  }

  failure(code: string, message: string): void {
    this.err.write(`[error] ${code}: ${message}\n`);
  }

  note(): void {}

  approval(text: string): void {
    this.err.write(`[approval] ${text}\n`);
  }

  close(): void {}
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A terminal: thinking dimmed, a spinner while the agent thinks or tools run, the answer streamed after
 * `agent ›`, results ticked off. Output is written around the spinner line (cleared, written, redrawn).
 */
export class TerminalView implements ChatView {
  private readonly tools = new Map<string, string>();
  private readonly toolNames = new Map<string, string>();
  /** Calls waiting for the person's answer: no spinner meanwhile, it would draw over the question. */
  private readonly asking = new Set<string>();
  private waiting = false;
  private answering = false;
  private frame = 0;
  private spinner: ReturnType<typeof setInterval> | undefined;
  private spinnerShown = false;

  constructor(
    private readonly out: Writable,
    private readonly color: boolean,
  ) {}

  sent(): void {
    this.waiting = true;
    this.tools.clear();
    this.answering = false;
    this.animate();
  }

  event(e: RunEvent): void {
    switch (e.type) {
      case 'agent_started':
        this.waiting = true;
        return this.animate();
      case 'agent_thinking':
        return this.print(this.paint(`  ${oneLine(e.text)}`, 2, 22));
      case 'tool_executing':
        this.endAnswer();
        this.tools.set(e.toolCallId, `${e.tool} ${clip(oneLine(e.args), 60)}`);
        this.toolNames.set(e.toolCallId, e.tool);
        return this.animate();
      case 'tool_approval_requested':
        this.asking.add(e.toolCallId);
        return this.stopSpinner();
      case 'tool_approval_resolved': {
        this.asking.delete(e.toolCallId);
        const mark = e.approved ? this.paint('✓', 32, 39) : this.paint('✗', 33, 39);
        this.print(`  ${mark} ${resolutionOf(this.toolNames.get(e.toolCallId), e)}`);
        return this.animate();
      }
      case 'tool_completed': {
        this.tools.delete(e.toolCallId);
        this.toolNames.delete(e.toolCallId);
        const mark = e.error === undefined ? this.paint('✓', 32, 39) : this.paint('✗', 31, 39);
        const outcome = e.error === undefined ? `→ ${clip(resultOf(e.result), 100)}` : `failed: ${e.error.code}`;
        this.print(`  ${mark} ${e.tool} ${outcome} ${this.paint(`(${Math.round(e.durationMs)} ms)`, 2, 22)}`);
        return this.animate();
      }
      case 'agent_message_delta':
        this.stopSpinner();
        if (!this.answering) this.out.write(this.paint('agent › ', 1, 22));
        this.answering = true;
        this.out.write(e.text);
        return;
      case 'agent_completed':
        return this.finish();
      case 'agent_error':
        this.finish();
        return this.print(this.paint(`✗ ${e.code}: ${e.message}`, 31, 39));
      case 'run_cancelled':
        this.finish();
        return this.print(this.paint('cancelled', 33, 39));
    }
  }

  connection(state: ConnectionState, detail?: StateDetail): void {
    const text = state === 'connected' ? 'connected' : connectionLine(state, detail);
    if (text !== undefined) this.print(this.paint(`[${text}]`, 2, 22));
  }

  failure(code: string, message: string): void {
    this.finish();
    this.print(this.paint(`✗ ${code}: ${message}`, 31, 39));
  }

  note(text: string): void {
    this.print(this.paint(text, 2, 22));
  }

  approval(text: string): void {
    this.print(this.paint(`  ${text}`, 33, 39));
  }

  close(): void {
    this.finish();
  }

  private finish(): void {
    this.waiting = false;
    this.tools.clear();
    this.toolNames.clear();
    this.asking.clear();
    this.stopSpinner();
    this.endAnswer();
  }

  private endAnswer(): void {
    if (this.answering) this.out.write('\n');
    this.answering = false;
  }

  /** Writes a whole line above the spinner (after ending an answer in progress). */
  private print(line: string): void {
    this.clearSpinnerLine();
    this.endAnswer();
    this.out.write(`${line}\n`);
    this.drawSpinner();
  }

  private animate(): void {
    if (!(this.waiting || this.tools.size > 0) || this.answering || this.asking.size > 0) return this.stopSpinner();
    this.spinner ??= setInterval(() => {
      this.frame = (this.frame + 1) % FRAMES.length;
      this.drawSpinner();
    }, 80);
    this.drawSpinner();
  }

  private drawSpinner(): void {
    if (this.spinner === undefined) return;
    const label = this.tools.size > 0 ? [...this.tools.values()].join(', ') : 'thinking';
    this.out.write(`\r\x1b[2K${this.paint(FRAMES[this.frame] ?? '', 36, 39)} ${this.paint(label, 2, 22)}`);
    this.spinnerShown = true;
  }

  private stopSpinner(): void {
    clearInterval(this.spinner);
    this.spinner = undefined;
    this.clearSpinnerLine();
  }

  private clearSpinnerLine(): void {
    if (this.spinnerShown) this.out.write('\r\x1b[2K');
    this.spinnerShown = false;
  }

  private paint(text: string, on: number, off: number): string {
    return this.color ? `\x1b[${on}m${text}\x1b[${off}m` : text;
  }
}
