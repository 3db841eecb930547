import { ClientError, type RunEvent } from '../client/node.js';

/** How `chat` answers `tool_approval_requested`: ask the person at the terminal, or a fixed answer. */
export type ApprovalPolicy = 'ask' | 'approve' | 'deny';

/** `--approve-tools` approves everything; otherwise only a terminal on stdin has someone to ask. */
export function approvalPolicy(approveTools: boolean, stdinIsTerminal: boolean): ApprovalPolicy {
  return approveTools ? 'approve' : stdinIsTerminal ? 'ask' : 'deny';
}

export interface ToolApproverDeps {
  readonly policy: ApprovalPolicy;
  /**
   * Shows `question` and resolves with the line typed; undefined when no answer will come (the input ended) or
   * `signal` fired (the call was decided elsewhere, expired, or its run ended).
   */
  readonly ask: (question: string, signal: AbortSignal) => Promise<string | undefined>;
  readonly decide: (runId: string, toolCallId: string, approved: boolean) => Promise<void>;
  /** One line saying what was decided without asking, or what went wrong. */
  readonly report: (text: string) => void;
}

/** A tool call as the person judges it: its name and its whole arguments, as JSON (control characters escaped). */
export function describeCall(tool: string, args: unknown): string {
  return `${tool} ${JSON.stringify(args) ?? ''}`.trimEnd();
}

/** `y` or `yes` (any case) approves; anything else, Enter included, denies. */
export function isYes(answer: string): boolean {
  return /^y(es)?$/i.test(answer.trim());
}

const NO_TERMINAL = 'stdin is not a terminal, so no one can be asked (--approve-tools approves every tool call)';

/**
 * Answers the approval requests of the runs `chat` shows. Questions are asked one at a time, in the order the
 * requests came; one decided elsewhere (another tab, expiry, a cancel) before its answer is dropped.
 */
export class ToolApprover {
  private queue: Promise<void> = Promise.resolve();
  /** Requests not resolved yet, by run and call: aborted when their `tool_approval_resolved` arrives. */
  private readonly open = new Map<string, AbortController>();

  constructor(private readonly deps: ToolApproverDeps) {}

  /** Every event of a run being shown. */
  event(event: RunEvent): void {
    if (event.type === 'tool_approval_resolved') {
      const key = keyOf(event.runId, event.toolCallId);
      this.open.get(key)?.abort();
      this.open.delete(key);
      return;
    }
    if (event.type !== 'tool_approval_requested') return;
    const { runId, toolCallId } = event;
    const call = describeCall(event.tool, event.args);
    const { policy, report } = this.deps;
    if (policy === 'approve') return (report(`approved ${call} (--approve-tools)`), this.send(runId, toolCallId, true));
    if (policy === 'deny') return (report(`denied ${call}: ${NO_TERMINAL}`), this.send(runId, toolCallId, false));
    const controller = new AbortController();
    this.open.set(keyOf(runId, toolCallId), controller);
    this.queue = this.queue
      .then(() => this.askOne(runId, toolCallId, call, controller.signal))
      .catch((err: unknown) => report(`could not ask about ${call} (${String(err)})`));
  }

  private async askOne(runId: string, toolCallId: string, call: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const answer = await this.deps.ask(`Allow ${call}? [y/N] `, signal);
    if (signal.aborted) return;
    this.open.delete(keyOf(runId, toolCallId));
    if (answer === undefined) {
      this.deps.report(`denied ${call}: the input ended before an answer`);
      return this.send(runId, toolCallId, false);
    }
    this.send(runId, toolCallId, isYes(answer));
  }

  /** The run's tool_approval_resolved shows the outcome; only a refusal of the decision is reported here. */
  private send(runId: string, toolCallId: string, approved: boolean): void {
    this.deps.decide(runId, toolCallId, approved).catch((err: unknown) => {
      const why = err instanceof ClientError ? `${err.code}: ${err.message}` : String(err);
      this.deps.report(`the decision on ${toolCallId} was not taken (${why})`);
    });
  }
}

function keyOf(runId: string, toolCallId: string): string {
  return `${runId}\u0000${toolCallId}`;
}
