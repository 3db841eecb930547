import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { ensureWebBuild } from './helpers/build.js';
import { BROWSER_MISSING, contrastRatio, launchChromium, screenshot } from './helpers/browser.js';
import {
  colourPairs,
  focusedControl,
  focusedName,
  pageWidth,
  storageKeys,
  unnamedControls,
  xssFindings,
} from './helpers/in-page.js';
import { ask, connected, ended, newEmail, PASSWORD, signUp, threadTitles } from './helpers/chat-page.js';

/**
 * The chat page in Debian's Chromium against a real server serving the built page: what a person does, from the
 * first screen to a reload, with a second user in a separate browser context.
 */
describe.skipIf(BROWSER_MISSING !== null)('the chat page in a real browser', () => {
  let app: TestApp;
  let browser: Browser;
  let alice: { context: BrowserContext; page: Page; email: string; threadUrl: string };
  /** Every URL the page asked for, and every WebSocket it opened: tokens must never be in one. */
  const urls: string[] = [];

  beforeAll(async () => {
    await ensureWebBuild();
    [app, browser] = await Promise.all([createTestApp(), launchChromium()]);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('request', (r) => urls.push(r.url()));
    page.on('websocket', (ws) => urls.push(ws.url()));
    alice = { context, page, email: newEmail('alice'), threadUrl: '' };
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('first screen: the product, what it is, a sign-in form, and no demo button when demo mode is off', async () => {
    const { page } = alice;
    const health = page.waitForResponse((r) => r.url().endsWith('/ws/health'));
    await page.goto(app.url);
    await health;
    await expect(page.title()).resolves.toBe('agentgate');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain('AI agent');
    await expect(page.getByLabel('Email').isVisible()).resolves.toBe(true);
    await expect(page.getByLabel('Password').isVisible()).resolves.toBe(true);
    // The email field has focus: typing starts at once.
    await expect(page.evaluate(focusedName)).resolves.toBe('email');
    await expect(page.getByRole('button', { name: 'Try the demo' }).count()).resolves.toBe(0);
    await screenshot(page, 'first-screen.png');
  });

  it('sign up, ask "calculate 12*7": a calculator tool card, then the answer 84', async () => {
    const { page } = alice;
    await signUp(page, app.url, alice.email);
    await page.getByRole('heading', { name: 'Ask the agent something' }).waitFor();
    await screenshot(page, 'new-chat.png');
    const run = await ask(page, 'calculate 12*7');
    await ended(run);
    const tool = run.locator('.tool[data-tool="calculator"]');
    await expect(tool.getAttribute('data-status')).resolves.toBe('done');
    await expect(tool.locator('.tool-args').textContent()).resolves.toContain('12*7');
    await expect(tool.locator('.tool-result').textContent()).resolves.toContain('84');
    await expect(tool.locator('.tool-duration').textContent()).resolves.toMatch(/\d+(\.\d+)? (ms|s)/);
    await expect(run.locator('.thinking').first().textContent()).resolves.toContain('calculator');
    await expect(run.locator('.answer').innerText()).resolves.toBe('12*7 = 84');
    await expect(run.locator('.run-state').textContent()).resolves.toMatch(/^Answered in /);
    // The new conversation got a URL of its own and a place in the list.
    expect(page.url()).toMatch(/#\/t\/[^/]+$/);
    alice.threadUrl = page.url();
    await expect.poll(() => threadTitles(page)).toEqual(['calculate 12*7']);
    await screenshot(page, 'conversation.png');
  });

  it('renders markdown inert: <img onerror> and javascript: links do nothing', async () => {
    const { page } = alice;
    const hostile = 'search docs for <img src=x onerror=window.__xss=1> and [x](javascript:window.__xss=2) **bold**';
    const run = await ask(page, hostile);
    await ended(run);
    const answer = run.locator('.answer');
    // The agent echoed the text back: it shows as text, the markdown around it still works.
    await expect(answer.textContent()).resolves.toContain('<img src=x onerror=window.__xss=1>');
    await expect(answer.locator('strong').count()).resolves.toBeGreaterThan(0);
    const link = answer.locator('a').filter({ hasText: /^x$/ });
    await expect(link.count()).resolves.toBe(1);
    await expect(link.getAttribute('href')).resolves.toBeNull();
    await expect(page.evaluate(xssFindings)).resolves.toEqual({
      xss: undefined,
      images: 0,
      withHandlers: 0,
      scriptUrls: 0,
    });
    // The question itself is shown as plain text too.
    await expect(page.locator('.row-user .bubble', { hasText: 'onerror' }).textContent()).resolves.toBe(hostile);
  });

  it('stops a long run: a wait tool card with a spinner and a ticking clock, then "Stopped"', async () => {
    const { page } = alice;
    const run = await ask(page, 'wait 60 seconds');
    const tool = run.locator('.tool[data-tool="wait"]');
    await tool.locator('.spinner').waitFor();
    await screenshot(page, 'running.png');
    const elapsed = run.locator('.elapsed');
    const first = await elapsed.textContent();
    await expect.poll(() => elapsed.textContent(), { timeout: 3_000 }).not.toBe(first);
    await run.getByRole('button', { name: 'Stop' }).click();
    await ended(run, 'cancelled');
    await expect(run.locator('.run-state').textContent()).resolves.toMatch(/^Stopped/);
    await expect(tool.getAttribute('data-status')).resolves.not.toBe('running');
    await expect(run.getByRole('button', { name: 'Stop' }).count()).resolves.toBe(0);
  });

  it('after a reload the thread is listed and its messages show; a run in progress is followed to its end', async () => {
    const { page } = alice;
    const run = await ask(page, 'wait 2 seconds then calculate 6*7');
    await run.locator('.tool[data-tool="wait"]').waitFor();
    await page.reload();
    await connected(page);
    expect(page.url()).toBe(alice.threadUrl);
    await expect.poll(() => threadTitles(page)).toEqual(['calculate 12*7']);
    const rows = page.locator('.rows');
    await expect(rows.locator('.row-user .bubble').allTextContents()).resolves.toEqual([
      'calculate 12*7',
      expect.stringContaining('search docs for'),
      'wait 60 seconds',
      'wait 2 seconds then calculate 6*7',
    ]);
    await expect(rows.locator('.run').first().locator('.answer').innerText()).resolves.toBe('12*7 = 84');
    // The stopped run is shown as stopped; the one that was running carries on and ends, its answer whole once.
    await rows.locator('.run[data-status="cancelled"]').waitFor();
    const resumed = rows.locator('.run').nth(3);
    await ended(resumed);
    await expect(resumed.locator('.answer').innerText()).resolves.toBe('Done waiting 2 seconds.\n6*7 = 42');
    await expect(resumed.locator('.tool').count()).resolves.toBe(2);
    // Its stored answer's steps open on demand.
    const stored = rows.locator('.run').first();
    await stored.locator('summary', { hasText: 'Show steps' }).click();
    await stored.locator('.tool[data-tool="calculator"][data-status="done"]').waitFor();
  });

  it('shows reconnecting when the server drops the socket, then resumes the shown run without doubled text', async () => {
    const { page } = alice;
    const run = await ask(page, 'wait 2 seconds then calculate 12*7');
    await run.locator('.tool[data-tool="wait"] .spinner').waitFor();
    for (const connection of app.gateway.registry.all()) connection.socket.terminate();
    await page.locator('.connection[data-state="reconnecting"]').waitFor({ timeout: 5_000 });
    await connected(page);
    await ended(run);
    await expect(run.locator('.answer').innerText()).resolves.toBe('Done waiting 2 seconds.\n12*7 = 84');
    await expect(run.locator('.tool').count()).resolves.toBe(2);
    await expect(run.locator('.thinking').count()).resolves.toBe(1);
  });

  it('shows what another tab of the same user sends, live', async () => {
    const other = await alice.context.newPage();
    try {
      // sessionStorage is per tab: the second tab signs in on its own.
      await other.goto(alice.threadUrl);
      await other.getByLabel('Email').fill(alice.email);
      await other.getByLabel('Password').fill(PASSWORD);
      await other.getByRole('button', { name: 'Sign in' }).click();
      await connected(other);
      await ask(other, 'calculate 100-1');
      const mirrored = alice.page.locator('.rows .run').last();
      await alice.page.locator('.row-user .bubble', { hasText: 'calculate 100-1' }).waitFor();
      await ended(mirrored);
      await expect(mirrored.locator('.answer').innerText()).resolves.toBe('100-1 = 99');
    } finally {
      await other.close();
    }
  });

  it('is accessible: every control named, a visible keyboard focus, AA contrast in light and dark', async () => {
    const { page } = alice;
    await expect(page.evaluate(unnamedControls)).resolves.toEqual([]);
    await page.getByLabel('Message').focus();
    await page.getByLabel('Message').fill('x');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(focusedControl)).resolves.toEqual({ text: 'Send', outline: 'solid', width: 3 });
    await page.getByLabel('Message').fill('');

    const selectors = [
      '.conversation-title',
      '.bubble',
      '.thinking',
      '.tool-name',
      '.tool-state',
      '.tool-io dt',
      '.tool-args',
      '.answer',
      '.run-state',
      '.connection-label',
      '.who',
      '.thread-title',
      '.thread-time',
      'button.primary',
      '.run-footer',
      'summary',
    ];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const pairs = await page.evaluate(colourPairs, selectors);
      expect(pairs.length, scheme).toBe(selectors.length);
      for (const { selector, fg, bg } of pairs)
        expect(contrastRatio(fg, bg), `${scheme} ${selector}: ${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('never puts a token in a URL, and keeps none in localStorage', async () => {
    const { page } = alice;
    const jwt = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;
    expect(urls.filter((u) => jwt.test(u) || /token=/i.test(u))).toEqual([]);
    const sockets = urls.filter((u) => u.startsWith('ws'));
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    for (const u of sockets) expect(new URL(u).searchParams.get('ticket')).toMatch(/\S{22,}/);
    await expect(page.evaluate(storageKeys)).resolves.toEqual({ local: [], session: ['agentgate.refreshToken'] });
  });

  it('two users in two browser contexts each see only their own conversations', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await signUp(page, app.url, newEmail('bob'));
      await expect(threadTitles(page)).resolves.toEqual([]);
      const run = await ask(page, 'calculate 2+3');
      await ended(run);
      await expect.poll(() => threadTitles(page)).toEqual(['calculate 2+3']);
      // Alice's thread, opened by URL in Bob's browser: not found, and nothing of hers shows.
      await page.goto(alice.threadUrl);
      await connected(page);
      await page.getByRole('alert').filter({ hasText: 'Not found' }).waitFor();
      await expect(page.locator('.rows').textContent()).resolves.not.toContain('12*7');
      await expect(threadTitles(page)).resolves.toEqual(['calculate 2+3']);
      await alice.page.reload();
      await connected(alice.page);
      await expect.poll(() => threadTitles(alice.page)).toEqual(['calculate 12*7']);
    } finally {
      await context.close();
    }
  });

  it('works on a 360 px wide phone: no sideways scrolling, conversations behind the menu button', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    try {
      const page = await context.newPage();
      await signUp(page, app.url, newEmail('phone'));
      const run = await ask(page, 'calculate 12*7');
      await ended(run);
      await expect(page.evaluate(pageWidth)).resolves.toBeLessThanOrEqual(360);
      await expect(page.locator('.sidebar').isVisible()).resolves.toBe(false);
      const menu = page.getByRole('button', { name: 'Conversations' });
      await menu.click();
      await expect(menu.getAttribute('aria-expanded')).resolves.toBe('true');
      await page.locator('.thread-list a', { hasText: 'calculate 12*7' }).waitFor({ state: 'visible' });
      await menu.click();
      await screenshot(page, 'conversation-phone.png');
    } finally {
      await context.close();
    }
  });

  it('logs out back to the sign-in screen, and the session is gone after a reload', async () => {
    const { page } = alice;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expect(page.evaluate(storageKeys)).resolves.toEqual({ local: [], session: [] });
  });
});

describe.skipIf(BROWSER_MISSING !== null)('the chat page with DEMO_MODE=1', () => {
  let app: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    await ensureWebBuild();
    [app, browser] = await Promise.all([createTestApp({ DEMO_MODE: '1' }), launchChromium()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('offers "Try the demo", which signs in a throwaway user who can chat at once', async () => {
    const page = await browser.newPage();
    await page.goto(app.url);
    await page.getByRole('button', { name: 'Try the demo' }).waitFor();
    await screenshot(page, 'first-screen-demo.png');
    await page.getByRole('button', { name: 'Try the demo' }).click();
    await connected(page);
    await expect(page.locator('.who').textContent()).resolves.toBe('Demo user');
    const run = await ask(page, 'calculate 12*7');
    await ended(run);
    await expect(run.locator('.answer').innerText()).resolves.toBe('12*7 = 84');
  });
});
