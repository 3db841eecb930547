import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { ensureWebBuild } from './helpers/build.js';
import { BROWSER_MISSING, launchChromium } from './helpers/browser.js';
import { ask, connected, ended, newEmail, PASSWORD, signUp } from './helpers/chat-page.js';

/**
 * The page keeps one SDK client for the life of the tab. Logging out and back in (or a session the server ended)
 * must not leave the client's memory of runs behind: the new chat screen relies on onEvent handing it whole runs.
 */
async function signIn(page: Page, email: string): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.locator('form button[type="submit"]').click();
  await connected(page);
}

describe.skipIf(BROWSER_MISSING !== null)('re-login in the same page (one SDK client)', () => {
  let app: TestApp;
  let browser: Browser;
  beforeAll(async () => {
    await ensureWebBuild();
    [app, browser] = await Promise.all([createTestApp(), launchChromium()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('a stopped run seen before logging out is shown again after signing back in', async () => {
    const page = await browser.newPage();
    const email = newEmail('relogin');
    await signUp(page, app.url, email);
    const run = await ask(page, 'wait 60 seconds');
    await run.locator('.tool[data-tool="wait"] .spinner').waitFor();
    await run.getByRole('button', { name: 'Stop' }).click();
    await ended(run, 'cancelled');
    await expect.poll(() => page.url()).toMatch(/#\/t\//);
    const threadUrl = page.url();
    await page.getByRole('button', { name: 'Log out' }).click();
    await signIn(page, email);
    await page.evaluate(`location.hash = ${JSON.stringify(new URL(threadUrl).hash)}`);
    await page.locator('.row-user .bubble', { hasText: 'wait 60 seconds' }).waitFor();
    await page.locator('.rows .run[data-status="cancelled"]').waitFor({ timeout: 5_000 });
  });

  it('a run in progress at logout is shown whole after signing back in', async () => {
    const page = await browser.newPage();
    const email = newEmail('relogin2');
    await signUp(page, app.url, email);
    const run = await ask(page, 'wait 3 seconds then calculate 6*7');
    await run.locator('.tool[data-tool="wait"] .spinner').waitFor();
    await expect.poll(() => page.url()).toMatch(/#\/t\//);
    const threadUrl = page.url();
    await page.getByRole('button', { name: 'Log out' }).click();
    await signIn(page, email);
    await page.evaluate(`location.hash = ${JSON.stringify(new URL(threadUrl).hash)}`);
    const card = page.locator('.rows .run').first();
    await ended(card);
    await expect(card.locator('.tool').count()).resolves.toBe(2);
    await expect(card.locator('.answer').innerText()).resolves.toBe('Done waiting 3 seconds.\n6*7 = 42');
  });
});
