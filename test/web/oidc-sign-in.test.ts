import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createTestApp, registerUser, type TestApp } from '../../src/testing/index.js';
import { startOidcProvider, type OidcProviderHarness } from '../../src/testing/oidc-provider/index.js';
import { ensureWebBuild } from './helpers/build.js';
import { BROWSER_MISSING, launchChromium, screenshot } from './helpers/browser.js';
import { connected } from './helpers/chat-page.js';

/**
 * "Sign in with <name>" on the page, in Chromium, against a real OpenID Provider on this machine (oidc-provider):
 * the button, the round trip, the login code exchanged by the page, and a refusal said in words.
 */
describe.skipIf(BROWSER_MISSING !== null)('OIDC sign-in from the page', () => {
  let idp: OidcProviderHarness;
  let app: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    await ensureWebBuild();
    idp = await startOidcProvider({ claimsInIdToken: true });
    app = await createTestApp({
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: 'agentgate-page',
      OIDC_CLIENT_SECRET: 'agentgate-page-secret-0123456789',
      OIDC_DISPLAY_NAME: 'Acme',
    });
    idp.setClient({
      clientId: 'agentgate-page',
      clientSecret: 'agentgate-page-secret-0123456789',
      redirectUris: [`${app.url}/auth/oidc/callback`],
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await idp?.close();
  });

  async function freshPage(): Promise<Page> {
    return (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  }

  it('the button signs in through the provider and lands in the chat, the login code gone from the address bar', async () => {
    idp.setAccount('page-user-1', { email: 'page.user@acme.example', email_verified: true, name: 'Page User' });
    idp.nextAccount = 'page-user-1';
    idp.nextInteraction = 'login';
    const page = await freshPage();
    await page.goto(app.url);
    const button = page.getByRole('link', { name: 'Sign in with Acme' });
    await button.waitFor({ timeout: 10_000 });
    await screenshot(page, 'oidc-sign-in-button.png');
    await button.click();
    await connected(page);
    expect(new URL(page.url()).searchParams.has('login_code')).toBe(false);
    await expect(page.locator('.who').textContent()).resolves.toBe('Page User');
    await page.context().close();
  });

  it('the same provider account in another browser is the same user; a password account with its verified email is that user too', async () => {
    const existing = await registerUser(app.url, 'page-linked');
    idp.setAccount('page-user-2', { email: existing.email.toUpperCase(), email_verified: true, name: 'Linked' });
    idp.nextAccount = 'page-user-2';
    const page = await freshPage();
    await page.goto(app.url);
    await page.getByRole('link', { name: 'Sign in with Acme' }).click();
    await connected(page);
    // The account shown is the password account (its own email, as registered), not a new one.
    await expect(
      page
        .getByText(existing.user.displayName ?? existing.email)
        .first()
        .isVisible(),
    ).resolves.toBe(true);
    await page.context().close();
  });

  it('a refusal at the provider comes back as words on the sign-in screen, and no one is signed in', async () => {
    idp.nextInteraction = 'refuse';
    const page = await freshPage();
    await page.goto(app.url);
    await page.getByRole('link', { name: 'Sign in with Acme' }).click();
    await page.getByText('Sign-in was cancelled at the provider.').waitFor({ timeout: 10_000 });
    expect(new URL(page.url()).searchParams.has('login_error')).toBe(false);
    await expect(page.getByRole('button', { name: 'Sign in', exact: true }).isVisible()).resolves.toBe(true);
    idp.nextInteraction = 'login';
    await page.context().close();
  });

  it('a login code replayed (the back button, a reload of the old URL) is refused in words', async () => {
    idp.nextAccount = 'page-user-1';
    const page = await freshPage();
    let landing = '';
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame() && frame.url().includes('login_code=')) landing = frame.url();
    });
    await page.goto(app.url);
    await page.getByRole('link', { name: 'Sign in with Acme' }).click();
    await connected(page);
    expect(landing).toContain('login_code=');
    // A new tab of the same browser opens the old URL: the code is spent.
    const again = await page.context().newPage();
    await again.goto(landing);
    await again.getByText('The sign-in expired or was already used. Sign in again.').waitFor({ timeout: 10_000 });
    await page.context().close();
  });
});
