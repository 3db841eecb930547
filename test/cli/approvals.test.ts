import { describe, expect, it } from 'vitest';
import { approvalPolicy, describeCall, isYes, ToolApprover, type ApprovalPolicy } from '../../src/cli/approvals.js';
import { ClientError, type RunEvent } from '../../src/client/node.js';

const stamp = (seq: number) => ({ runId: 'r1', threadId: 't1', seq, ts: new Date(Date.UTC(2026, 0, 1)).toISOString() });

function requested(seq: number, toolCallId: string, args: unknown = { expression: '6 * 7' }): RunEvent {
  return { ...stamp(seq), type: 'tool_approval_requested', toolCallId, tool: 'calculator', args, expiresAt: 'x' };
}

function resolved(seq: number, toolCallId: string, reason: 'user' | 'expired' = 'user'): RunEvent {
  return { ...stamp(seq), type: 'tool_approval_resolved', toolCallId, approved: false, reason };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/** An approver whose questions wait until the test answers them. */
function harness(policy: ApprovalPolicy, decide: (approved: boolean) => Promise<void> = () => Promise.resolve()) {
  const asked: Array<{ question: string; signal: AbortSignal; answer: (text: string | undefined) => void }> = [];
  const decisions: Array<{ toolCallId: string; approved: boolean }> = [];
  const reports: string[] = [];
  const approver = new ToolApprover({
    policy,
    ask: (question, signal) =>
      new Promise((answer) => {
        asked.push({ question, signal, answer });
        signal.addEventListener('abort', () => answer(undefined));
      }),
    decide: (_runId, toolCallId, approved) => {
      decisions.push({ toolCallId, approved });
      return decide(approved);
    },
    report: (text) => reports.push(text),
  });
  return { approver, asked, decisions, reports };
}

describe('chat approvals: the policy and the answers', () => {
  it('--approve-tools approves; otherwise a terminal on stdin is asked and anything else denied', () => {
    expect(approvalPolicy(true, false)).toBe('approve');
    expect(approvalPolicy(true, true)).toBe('approve');
    expect(approvalPolicy(false, true)).toBe('ask');
    expect(approvalPolicy(false, false)).toBe('deny');
  });

  it('y or yes approves (any case, surrounding blanks); everything else, Enter included, denies', () => {
    for (const yes of ['y', 'Y', 'yes', ' YES ', 'Yes\t']) expect(isYes(yes)).toBe(true);
    for (const no of ['', 'n', 'no', 'yeah', 'y y', 'ok']) expect(isYes(no)).toBe(false);
  });

  it('shows the whole arguments as JSON, control characters escaped (nothing can draw on the terminal)', () => {
    expect(describeCall('calculator', { expression: '6 * 7' })).toBe('calculator {"expression":"6 * 7"}');
    expect(describeCall('write', { text: 'a\u001b[2Jb\nc' })).toBe('write {"text":"a\\u001b[2Jb\\nc"}');
    expect(describeCall('clock', undefined)).toBe('clock');
  });
});

describe('chat approvals: ToolApprover', () => {
  it('asks one question at a time, in order, and sends each answer', async () => {
    const h = harness('ask');
    h.approver.event(requested(4, 'call_a'));
    h.approver.event(requested(5, 'call_b', { expression: '1+1' }));
    await tick();
    expect(h.asked.map((a) => a.question)).toEqual(['Allow calculator {"expression":"6 * 7"}? [y/N] ']);
    h.asked[0]?.answer('y');
    await tick();
    expect(h.asked.map((a) => a.question)).toEqual([
      'Allow calculator {"expression":"6 * 7"}? [y/N] ',
      'Allow calculator {"expression":"1+1"}? [y/N] ',
    ]);
    h.asked[1]?.answer('');
    await tick();
    expect(h.decisions).toEqual([
      { toolCallId: 'call_a', approved: true },
      { toolCallId: 'call_b', approved: false },
    ]);
    expect(h.reports).toEqual([]);
  });

  it('a call resolved elsewhere ends its question without a decision; a queued one is never asked', async () => {
    const h = harness('ask');
    h.approver.event(requested(4, 'call_a'));
    h.approver.event(requested(5, 'call_b'));
    await tick();
    h.approver.event(resolved(6, 'call_b', 'expired'));
    h.approver.event(resolved(7, 'call_a'));
    expect(h.asked[0]?.signal.aborted).toBe(true);
    await tick();
    expect(h.asked).toHaveLength(1);
    expect(h.decisions).toEqual([]);
    expect(h.reports).toEqual([]);
  });

  it('the input ending before an answer denies, saying so', async () => {
    const h = harness('ask');
    h.approver.event(requested(4, 'call_a'));
    await tick();
    h.asked[0]?.answer(undefined);
    await tick();
    expect(h.decisions).toEqual([{ toolCallId: 'call_a', approved: false }]);
    expect(h.reports).toEqual(['denied calculator {"expression":"6 * 7"}: the input ended before an answer']);
  });

  it('approve and deny policies decide at once and say so; a refused decision is reported with its code', async () => {
    const approving = harness('approve');
    approving.approver.event(requested(4, 'call_a'));
    expect(approving.asked).toEqual([]);
    expect(approving.decisions).toEqual([{ toolCallId: 'call_a', approved: true }]);
    expect(approving.reports).toEqual(['approved calculator {"expression":"6 * 7"} (--approve-tools)']);

    const denying = harness('deny', () =>
      Promise.reject(new ClientError('already_resolved', 'This tool call was already decided.')),
    );
    denying.approver.event(requested(4, 'call_a'));
    await tick();
    expect(denying.decisions).toEqual([{ toolCallId: 'call_a', approved: false }]);
    expect(denying.reports).toEqual([
      'denied calculator {"expression":"6 * 7"}: stdin is not a terminal, so no one can be asked (--approve-tools approves every tool call)',
      'the decision on call_a was not taken (already_resolved: This tool call was already decided.)',
    ]);
  });
});
