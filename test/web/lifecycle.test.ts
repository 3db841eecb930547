import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { AgentgateClient, ClientError } from '../../src/client/node.js';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { ensureWebBuild } from './helpers/build.js';
import { BROWSER_MISSING, launchChromium, screenshot } from './helpers/browser.js';
import { ask, connected, ended, newEmail, PASSWORD, signUp, threadTitles } from './helpers/chat-page.js';
import { unnamedControls } from './helpers/in-page.js';

const NEW_PASSWORD = 'a much longer passphrase 42';

/**
 * Conversations and the account over their whole life, on the chat page in Chromium against a real server: rename
 * and delete a conversation, the sessions of an account, its password, deleting it, older pages of a long
 * conversation, and a run waiting for approval flagged in the list.
 */
describe.skipIf(BROWSER_MISSING !== null)('lifecycle on the chat page', () => {
  let app: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    await ensureWebBuild();
    [app, browser] = await Promise.all([
      createTestApp({ TOOLS_REQUIRING_APPROVAL: 'calculator', TOOL_APPROVAL_TIMEOUT_MS: '60000' }),
      launchChromium(),
    ]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** A tab with a login of its own (a browser context: its own sessionStorage). */
  async function newTab(): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.setDefaultTimeout(10_000);
    return page;
  }

  async function signIn(page: Page, email: string, password = PASSWORD, url = app.url): Promise<void> {
    await page.goto(url);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await connected(page);
  }

  /** A Node SDK client of the same server, for checks through the front door. */
  function sdk(): AgentgateClient {
    return new AgentgateClient({ baseUrl: app.url });
  }

  async function codeOf(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
      return 'resolved';
    } catch (err) {
      if (err instanceof ClientError) return err.code;
      throw err;
    }
  }

  async function openAccount(page: Page) {
    await page.getByRole('button', { name: /^Account/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Your account' });
    await dialog.waitFor();
    return dialog;
  }

  /** The sign-in screen, saying why. */
  async function signedOut(page: Page, notice: string): Promise<void> {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expect(page.getByRole('status').textContent()).resolves.toBe(notice);
  }

  it('renames a conversation in place (keyboard: Enter saves, Escape cancels); a reload shows the new name', async () => {
    const page = await newTab();
    await signUp(page, app.url, newEmail('rename'));
    await ended(await ask(page, 'what time is it in Europe/Paris'));
    await expect.poll(() => threadTitles(page)).toEqual(['what time is it in Europe/Paris']);

    await page.getByRole('button', { name: 'Rename “what time is it in Europe/Paris”' }).click();
    const box = page.getByLabel('New name for “what time is it in Europe/Paris”');
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toMatch(/^rename-/);
    await box.fill('Not this one');
    await box.press('Escape');
    await expect.poll(() => threadTitles(page)).toEqual(['what time is it in Europe/Paris']);

    await page.getByRole('button', { name: 'Rename “what time is it in Europe/Paris”' }).click();
    await box.fill('  Paris time  ');
    await box.press('Enter');
    await expect.poll(() => threadTitles(page)).toEqual(['Paris time']);
    await expect(page.locator('.conversation-title').textContent()).resolves.toBe('Paris time');
    // Focus goes back to the renamed conversation.
    await expect
      .poll(() => page.evaluate(`document.activeElement?.getAttribute('data-thread-id') ?? null`))
      .toBeTruthy();
    await expect(page.evaluate(unnamedControls)).resolves.toEqual([]);

    await page.reload();
    await connected(page);
    await expect.poll(() => threadTitles(page)).toEqual(['Paris time']);
    await expect(page.locator('.conversation-title').textContent()).resolves.toBe('Paris time');
  });

  it('deletes a conversation after a confirmation: its run stops, it is gone here, in another tab and on the server', async () => {
    const email = newEmail('delete');
    const page = await newTab();
    await signUp(page, app.url, email);
    await ended(await ask(page, 'what time is it in UTC'));
    await page.getByRole('button', { name: '+ New chat' }).click();
    const run = await ask(page, 'wait 60 seconds');
    await run.locator('.tool[data-tool="wait"] .spinner').waitFor();
    await expect.poll(() => page.url()).toMatch(/#\/t\/[^/]+$/);
    const threadId = decodeURIComponent(page.url().split('#/t/')[1] ?? '');
    const runId = String(await run.getAttribute('data-run-id'));
    await expect.poll(() => threadTitles(page)).toEqual(['wait 60 seconds', 'what time is it in UTC']);

    // Another tab of the same user, with the conversation open and its run going.
    const other = await newTab();
    await signIn(other, email, PASSWORD, page.url());
    const otherRun = other.locator(`.rows .run[data-status="running"]`);
    await otherRun.waitFor();

    // Cancel keeps it; Escape too.
    await page.getByRole('button', { name: 'Delete “wait 60 seconds”' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this conversation?' });
    await dialog.waitFor();
    await screenshot(page, 'delete-conversation.png');
    await expect.poll(() => page.evaluate('document.activeElement?.textContent')).toBe('Cancel');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog.count()).resolves.toBe(0);
    await page.getByRole('button', { name: 'Delete “wait 60 seconds”' }).click();
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await expect(dialog.count()).resolves.toBe(0);
    await expect.poll(() => threadTitles(page)).toEqual(['wait 60 seconds', 'what time is it in UTC']);

    await page.getByRole('button', { name: 'Delete “wait 60 seconds”' }).click();
    await dialog.getByRole('button', { name: 'Delete conversation' }).click();
    await expect.poll(() => threadTitles(page)).toEqual(['what time is it in UTC']);
    expect(page.url()).not.toContain('#/t/');
    await page.getByRole('heading', { name: 'Ask the agent something' }).waitFor();

    // The other tab: the run's end (run_cancelled) refreshes its list, and it leaves the conversation.
    await expect.poll(() => threadTitles(other)).toEqual(['what time is it in UTC']);
    await expect.poll(() => other.locator('.banner.error').textContent()).toContain('This conversation was deleted.');
    expect(other.url()).not.toContain('#/t/');

    const client = sdk();
    await client.login(email, PASSWORD);
    await expect(codeOf(client.messages(threadId))).resolves.toBe('not_found');
    await expect(codeOf(client.runEvents(runId))).resolves.toBe('not_found');
    client.close();
  });

  it('lists the sessions (this tab marked); signing out another one sends that tab to the sign-in screen', async () => {
    const email = newEmail('sessions');
    const one = await newTab();
    const two = await newTab();
    await signUp(one, app.url, email);
    await signIn(two, email);

    const dialog = await openAccount(one);
    const sessions = dialog.locator('.session');
    await expect.poll(() => sessions.count()).toBe(2);
    await expect(dialog.locator('.session[data-current] strong').textContent()).resolves.toBe('This tab');
    await expect(dialog.locator('.session:not([data-current]) strong').textContent()).resolves.toBe(
      'Another tab or device',
    );
    await expect(one.evaluate(unnamedControls)).resolves.toEqual([]);
    await screenshot(one, 'account-panel.png');

    await dialog
      .locator('.session:not([data-current])')
      .getByRole('button', { name: /^Sign out the session/ })
      .click();
    await expect.poll(() => dialog.getByRole('status').textContent()).toMatch(/^Signed out the session started /);
    await expect.poll(() => sessions.count()).toBe(1);
    await signedOut(two, 'Your session has ended. Sign in again.');

    // Escape closes the panel; this tab goes on.
    await one.keyboard.press('Escape');
    await expect(dialog.count()).resolves.toBe(0);
    await ended(await ask(one, 'what time is it in UTC'));
  });

  it('changes the password: errors in words, other tabs signed out, this one goes on; only the new one signs in', async () => {
    const email = newEmail('password');
    const page = await newTab();
    const other = await newTab();
    await signUp(page, app.url, email);
    await signIn(other, email);

    const dialog = await openAccount(page);
    const current = dialog.getByLabel('Current password');
    const next = dialog.getByLabel('New password', { exact: true });
    const change = dialog.getByRole('button', { name: 'Change password' });
    const error = dialog.locator('section[aria-labelledby="password-title"] [role="alert"]');

    await current.fill('not my password');
    await next.fill(NEW_PASSWORD);
    await change.click();
    await expect.poll(() => error.textContent()).toBe('The current password is wrong.');

    await current.fill(PASSWORD);
    await next.fill('password');
    await change.click();
    await expect
      .poll(() => error.textContent())
      .toBe('This new password cannot be used: this is one of the most commonly used passwords: choose another.');

    await next.fill('short');
    await change.click();
    await expect.poll(() => error.textContent()).toBe('The new password needs at least 8 characters.');

    await next.fill(NEW_PASSWORD);
    await change.click();
    await expect
      .poll(() => dialog.locator('section[aria-labelledby="password-title"] [role="status"]').textContent())
      .toBe('Password changed. Your other sessions were signed out.');
    await expect(error.count()).resolves.toBe(0);
    await signedOut(other, 'Your session has ended. Sign in again.');

    // This tab has its new login: connected again, one session, and it works.
    await connected(page);
    await expect.poll(() => dialog.locator('.session').count()).toBe(1);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await ended(await ask(page, 'what time is it in UTC'));
    // And a reload resumes it (the new refresh token was stored).
    await page.reload();
    await connected(page);

    await expect(codeOf(sdk().login(email, PASSWORD))).resolves.toBe('invalid_credentials');
    await signIn(other, email, NEW_PASSWORD);
  });

  it('"Log out everywhere" signs out this tab and the others', async () => {
    const email = newEmail('everywhere');
    const one = await newTab();
    const two = await newTab();
    await signUp(one, app.url, email);
    await signIn(two, email);
    const dialog = await openAccount(one);
    await dialog.getByRole('button', { name: 'Log out everywhere' }).click();
    await signedOut(one, 'You were logged out everywhere.');
    await signedOut(two, 'Your session has ended. Sign in again.');
    // Nothing is kept to resume: a reload stays signed out.
    await one.reload();
    await one.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  it('deletes the account once the password confirms it; then it cannot sign in', async () => {
    const email = newEmail('goodbye');
    const page = await newTab();
    await signUp(page, app.url, email);
    await ended(await ask(page, 'what time is it in UTC'));
    const dialog = await openAccount(page);
    const password = dialog.getByLabel('Your password, to confirm');
    const remove = dialog.getByRole('button', { name: 'Delete my account' });

    await password.fill('not my password');
    await remove.click();
    await expect
      .poll(() => dialog.locator('section[aria-labelledby="delete-account-title"] [role="alert"]').textContent())
      .toBe('Wrong password: nothing was deleted.');
    await connected(page);

    await password.fill(PASSWORD);
    await remove.click();
    await signedOut(page, 'Your account was deleted.');
    expect(page.url()).not.toContain('#/t/');
    await expect(codeOf(sdk().login(email, PASSWORD))).resolves.toBe('invalid_credentials');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Wrong email or password.');
  });

  it('a long conversation opens on its latest page; "Show older messages" adds the earlier ones above, keeping the place', async () => {
    const email = newEmail('older');
    // 30 questions and their answers: 60 messages, more than the page's 50.
    const client = sdk();
    await client.register(email, PASSWORD);
    let threadId: string | undefined;
    for (let i = 1; i <= 30; i += 1) {
      const handle = client.run(`hello ${i}`, threadId === undefined ? {} : { threadId });
      threadId = (await handle.accepted).threadId;
      await handle.done;
    }
    client.close();
    if (threadId === undefined) throw new Error('no thread');

    const page = await newTab();
    await signIn(page, email, PASSWORD, `${app.url}/#/t/${encodeURIComponent(threadId)}`);
    const bubbles = page.locator('.row-user .bubble');
    await page.locator('.row-user .bubble', { hasText: /^hello 30$/ }).waitFor();
    // Messages 11 to 60: the questions from "hello 6" on.
    await expect(bubbles.allTextContents()).resolves.toEqual(Array.from({ length: 25 }, (_, i) => `hello ${i + 6}`));
    const scroller = (expression: string): Promise<unknown> =>
      page.evaluate(`(() => { const el = document.querySelector('.conversation-scroll'); return ${expression}; })()`);
    // Followed to the end on open.
    await expect.poll(() => scroller('el.scrollHeight - el.scrollTop - el.clientHeight')).toBeLessThan(2);

    const button = page.getByRole('button', { name: 'Show older messages' });
    await scroller('(el.scrollTop = 0)');
    const first = page.locator('.row-user .bubble', { hasText: /^hello 6$/ });
    const before = (await first.boundingBox())?.y ?? NaN;
    await button.focus();
    await page.keyboard.press('Enter');
    await page.locator('.row-user .bubble', { hasText: /^hello 1$/ }).waitFor({ state: 'attached' });
    await expect(bubbles.allTextContents()).resolves.toEqual(Array.from({ length: 30 }, (_, i) => `hello ${i + 1}`));
    // "hello 6" did not move: the older messages went in above it, out of sight.
    const after = (await first.boundingBox())?.y ?? NaN;
    expect(Math.abs(after - before)).toBeLessThan(2);
    await expect(scroller('el.scrollTop')).resolves.toBeGreaterThan(100);
    // Nothing older: the button is gone, and its focus went to the start of the conversation.
    await expect(button.count()).resolves.toBe(0);
    await expect.poll(() => page.evaluate('document.activeElement?.textContent')).toBe('Start of the conversation.');
    await expect(page.locator('.rows .row').count()).resolves.toBe(60);
  });

  it('lists the 50 most recent conversations; "Show more conversations" adds the older ones below', async () => {
    const email = newEmail('many');
    const client = sdk();
    await client.register(email, PASSWORD);
    for (let i = 1; i <= 52; i += 1) await client.run(`hello ${i}`).done;
    client.close();

    const page = await newTab();
    await signIn(page, email);
    await expect.poll(async () => (await threadTitles(page)).length).toBe(50);
    await expect(threadTitles(page).then((t) => t.at(-1))).resolves.toBe('hello 3');
    const more = page.getByRole('button', { name: 'Show more conversations' });
    await more.focus();
    await page.keyboard.press('Enter');
    await expect
      .poll(async () => (await threadTitles(page)).slice(48))
      .toEqual(['hello 4', 'hello 3', 'hello 2', 'hello 1']);
    await expect(more.count()).resolves.toBe(0);
    // Focus went to the first conversation the page brought.
    await expect.poll(() => page.evaluate('document.activeElement?.textContent')).toMatch(/^hello 2/);
    // A run's end reads the list again: all 52 stay listed.
    await ended(await ask(page, 'what time is it in UTC'));
    await expect.poll(async () => (await threadTitles(page)).length).toBe(53);
  });

  it('flags a conversation waiting for approval in the list, here and in another tab; the elapsed time stands still meanwhile', async () => {
    const email = newEmail('flag');
    const page = await newTab();
    await signUp(page, app.url, email);
    const run = await ask(page, 'what is 6 * 7');
    await run.locator('.approval[data-decision="pending"]').waitFor();
    await expect.poll(() => threadTitles(page)).toEqual(['what is 6 * 7']);
    const elapsed = run.locator('.elapsed[data-paused]');
    await elapsed.waitFor();
    const shown = await elapsed.textContent();
    expect(shown).toMatch(/\(paused\)$/);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    await expect(elapsed.textContent()).resolves.toBe(shown);

    // Another conversation open: the list still says which one waits.
    await page.getByRole('button', { name: '+ New chat' }).click();
    const flag = page.locator('.thread[data-waiting] .thread-flag');
    await expect(flag.textContent()).resolves.toBe('Waiting for your approval');
    await expect(page.locator('.thread[data-waiting] .thread-title').textContent()).resolves.toBe('what is 6 * 7');

    // A tab opened meanwhile, on a new chat, knows too (the run is resumed from connection_established).
    const other = await newTab();
    await signIn(other, email);
    await other.locator('.thread[data-waiting] .thread-flag').waitFor();
    await screenshot(other, 'waiting-flag.png');

    // Approved from the other tab's conversation: the flag goes in both, and the clock runs again, to the end.
    await other.locator('.thread[data-waiting] a').click();
    await other.locator('.approval').getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => other.locator('.thread[data-waiting]').count()).toBe(0);
    await expect.poll(() => flag.count()).toBe(0);
    await page.locator('.thread a').first().click();
    const card = page.locator('.rows .run').first();
    await ended(card);
    await expect(card.locator('.answer').innerText()).resolves.toBe('6 * 7 = 42');
  });
});
