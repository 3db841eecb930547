import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import type { ApprovalReason, RunEvent } from '../../src/protocol/index.js';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { awaitsApproval, runFromEvents, type ToolCard } from '../../web/src/timeline.js';
import { ensureWebBuild } from './helpers/build.js';
import { BROWSER_MISSING, launchChromium, screenshot } from './helpers/browser.js';
import { ask, connected, ended, newEmail, PASSWORD, signUp } from './helpers/chat-page.js';
import { unnamedControls } from './helpers/in-page.js';

/** The offline agent calls the calculator for "what is ...", and the calculator waits for approval here. */
const MATH = 'what is 6 * 7';

/** The calculator's events up to a resolved wait, as the server sends them. */
function waited(approved: boolean, reason: ApprovalReason): RunEvent[] {
  const base = { runId: 'r1', threadId: 't1', ts: '2025-01-01T00:00:00.000Z' };
  const call = { toolCallId: 'c1', tool: 'calculator', args: { expression: '6 * 7' } };
  return [
    { ...base, seq: 1, type: 'agent_started' },
    { ...base, seq: 2, type: 'tool_executing', ...call },
    { ...base, seq: 3, type: 'tool_approval_requested', ...call, expiresAt: '2025-01-01T00:10:00.000Z' },
    { ...base, seq: 4, type: 'tool_approval_resolved', toolCallId: 'c1', approved, reason },
  ];
}

function toolOf(events: RunEvent[]): ToolCard | undefined {
  const step = runFromEvents('r1', 't1', events).steps[0];
  return step?.kind === 'tool' ? step.card : undefined;
}

describe('the approval fold (web/src/timeline.ts)', () => {
  it('marks the tool card as waiting, then says how the wait ended', () => {
    const asked = waited(true, 'user').slice(0, 3);
    expect(toolOf(asked)?.approval).toEqual({ expiresAt: '2025-01-01T00:10:00.000Z', decision: 'pending' });
    expect(awaitsApproval(runFromEvents('r1', 't1', asked))).toBe(true);
    expect(toolOf(waited(true, 'user'))?.approval?.decision).toBe('approved');
    expect(toolOf(waited(false, 'user'))?.approval?.decision).toBe('denied');
    expect(toolOf(waited(false, 'expired'))?.approval?.decision).toBe('expired');
    expect(toolOf(waited(false, 'cancelled'))?.approval?.decision).toBe('cancelled');
    expect(awaitsApproval(runFromEvents('r1', 't1', waited(false, 'expired')))).toBe(false);
    // A tool that needs no approval has none.
    expect(toolOf(waited(true, 'user').slice(0, 2))?.approval).toBeUndefined();
  });
});

/**
 * Approving tool calls from the chat page: one user in two browser contexts (two tabs, each with its own login), the
 * question asked in one, the decision taken in either, and every tab showing how the wait ended.
 */
describe.skipIf(BROWSER_MISSING !== null)('tool approvals on the chat page', () => {
  let app: TestApp;
  let browser: Browser;
  let one: Page;
  let two: Page;
  const email = newEmail('approver');
  let threadUrl = '';

  /** A tab of the same user, signed in on its own, with the conversation open. */
  async function openTab(): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(threadUrl);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await connected(page);
    return page;
  }

  /** The same run's card in another tab (by run id), once it shows there. */
  async function sameRun(page: Page, run: Locator): Promise<Locator> {
    const runId = await run.getAttribute('data-run-id');
    const card = page.locator(`.rows .run[data-run-id="${runId}"]`);
    await card.waitFor();
    return card;
  }

  /** Waits for the calculator's approval card of a run, still waiting for a decision, and checks what it shows. */
  async function awaitingCard(run: Locator): Promise<Locator> {
    const tool = run.locator('.tool[data-tool="calculator"]');
    const approval = tool.locator('.approval[data-decision="pending"]');
    await approval.waitFor();
    await expect(tool.locator('.tool-name').textContent()).resolves.toBe('calculator');
    await expect(tool.locator('.tool-args').textContent()).resolves.toMatch(/"expression": "6 ?\* ?7"/);
    await expect(approval.locator('time').getAttribute('datetime')).resolves.toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    await expect(approval.getByRole('button', { name: 'Approve' }).isEnabled()).resolves.toBe(true);
    await expect(approval.getByRole('button', { name: 'Deny' }).isEnabled()).resolves.toBe(true);
    await expect(run.locator('.run-state').textContent()).resolves.toBe('Waiting for your approval');
    return tool;
  }

  /** A card whose wait ended: no buttons, and the outcome in words. */
  async function decided(tool: Locator, decision: 'approved' | 'denied', label: string): Promise<void> {
    await tool.locator(`.approval[data-decision="${decision}"]`).waitFor();
    await expect(tool.getByRole('button').count()).resolves.toBe(0);
    await expect(tool.locator('.approval-outcome').textContent()).resolves.toBe(label);
  }

  beforeAll(async () => {
    await ensureWebBuild();
    [app, browser] = await Promise.all([
      createTestApp({ TOOLS_REQUIRING_APPROVAL: 'calculator', TOOL_APPROVAL_TIMEOUT_MS: '60000' }),
      launchChromium(),
    ]);
    one = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    one.setDefaultTimeout(10_000);
    await signUp(one, app.url, email);
    // A conversation both tabs have open before the question (the clock needs no approval).
    await ended(await ask(one, 'what time is it in Europe/Paris'));
    await one.waitForURL(/#\/t\/[^/]+$/);
    threadUrl = one.url();
    two = await openTab();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('asks in both tabs; Approve in the second updates the first, and both show 42', async () => {
    const runOne = await ask(one, MATH);
    const runTwo = await sameRun(two, runOne);
    const [toolOne, toolTwo] = await Promise.all([awaitingCard(runOne), awaitingCard(runTwo)]);
    await expect(two.evaluate(unnamedControls)).resolves.toEqual([]);
    await screenshot(one, 'approval-pending.png');

    await toolTwo.getByRole('button', { name: 'Approve' }).click();
    await decided(toolOne, 'approved', 'Approved');
    await decided(toolTwo, 'approved', 'Approved');
    for (const [run, tool] of [
      [runOne, toolOne],
      [runTwo, toolTwo],
    ] as const) {
      await ended(run);
      await expect(tool.getAttribute('data-status')).resolves.toBe('done');
      await expect(tool.locator('.tool-result').textContent()).resolves.toContain('42');
      await expect(run.locator('.answer').innerText()).resolves.toContain('42');
    }
    await screenshot(one, 'approval-approved.png');
  });

  it('Deny in the first tab: both show Denied, the tool does not run, and the run still completes', async () => {
    const runOne = await ask(one, MATH);
    const runTwo = await sameRun(two, runOne);
    const [toolOne, toolTwo] = await Promise.all([awaitingCard(runOne), awaitingCard(runTwo)]);

    await toolOne.getByRole('button', { name: 'Deny' }).click();
    await decided(toolTwo, 'denied', 'Denied');
    await decided(toolOne, 'denied', 'Denied');
    for (const [run, tool] of [
      [runOne, toolOne],
      [runTwo, toolTwo],
    ] as const) {
      await ended(run);
      await expect(tool.getAttribute('data-status')).resolves.toBe('failed');
      await expect(tool.locator('.tool-error').getAttribute('data-code')).resolves.toBe('approval_denied');
      await expect(tool.locator('.tool-result').count()).resolves.toBe(0);
      await expect(run.locator('.answer').innerText()).resolves.not.toContain('42');
    }
  });

  it('a tab reloaded while the run waits shows the card again, and can approve from it', async () => {
    const runOne = await ask(one, MATH);
    await awaitingCard(runOne);
    const runId = await runOne.getAttribute('data-run-id');
    await two.reload();
    await connected(two);
    const runTwo = two.locator(`.rows .run[data-run-id="${runId}"]`);
    const toolTwo = await awaitingCard(runTwo);
    await toolTwo.getByRole('button', { name: 'Approve' }).click();
    await decided(runOne.locator('.tool[data-tool="calculator"]'), 'approved', 'Approved');
    await ended(runTwo);
    await expect(runTwo.locator('.answer').innerText()).resolves.toContain('42');
  });

  it('a tab that has not heard of the decision yet: its click is refused in words, then it shows the decision', async () => {
    // A third tab whose socket holds back this run's events from the server while `holding` is set.
    const tab = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    tab.setDefaultTimeout(10_000);
    let holding: string | null = null;
    const held: string[] = [];
    let release = (): void => undefined;
    await tab.routeWebSocket(/\/ws\b/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((message) => {
        if (holding !== null && typeof message === 'string' && message.includes(`"runId":"${holding}"`))
          held.push(message);
        else ws.send(message);
      });
      release = () => {
        holding = null;
        for (const message of held.splice(0)) ws.send(message);
      };
    });
    await tab.goto(threadUrl);
    await tab.getByLabel('Email').fill(email);
    await tab.getByLabel('Password').fill(PASSWORD);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await connected(tab);

    const runOne = await ask(one, MATH);
    const runTab = await sameRun(tab, runOne);
    const toolTab = await awaitingCard(runTab);
    holding = await runOne.getAttribute('data-run-id');
    const toolOne = await awaitingCard(runOne);
    await toolOne.getByRole('button', { name: 'Deny' }).click();
    await decided(toolOne, 'denied', 'Denied');

    await toolTab.getByRole('button', { name: 'Approve' }).click();
    const refusal = toolTab.getByRole('alert');
    await expect(refusal.textContent()).resolves.toBe('Already decided in another tab.');
    await expect(refusal.getAttribute('data-code')).resolves.toBe('already_resolved');
    await screenshot(tab, 'approval-refused.png');

    // The refusal leaves the buttons usable (nothing is known to have happened yet) until the events come in.
    await expect(toolTab.getByRole('button', { name: 'Approve' }).isEnabled()).resolves.toBe(true);
    expect(held.length).toBeGreaterThan(0);
    release();
    await decided(toolTab, 'denied', 'Denied');
    await ended(runTab);
    await tab.context().close();
  });
});
