/** Drives the chat page the way a person does: by labels, roles and visible text. */
import type { Locator, Page } from 'playwright-core';

let counter = 0;
export function newEmail(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Date.now()}@example.com`;
}

export const PASSWORD = 'correct horse battery';

export async function signUp(page: Page, baseUrl: string, email: string): Promise<void> {
  await page.goto(baseUrl);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await connected(page);
}

export async function connected(page: Page): Promise<void> {
  await page.locator('.connection[data-state="connected"]').waitFor({ timeout: 10_000 });
}

/** Sends a message and returns the card of the run it started (the last one in the conversation). */
export async function ask(page: Page, text: string): Promise<Locator> {
  const before = await page.locator('.rows .run').count();
  const box = page.getByLabel('Message');
  await box.fill(text);
  await box.press('Enter');
  const card = page.locator('.rows .run').nth(before);
  await card.waitFor({ timeout: 10_000 });
  return card;
}

export async function threadTitles(page: Page): Promise<string[]> {
  await page.locator('.sidebar').waitFor();
  return page.locator('.thread-list .thread-title').allTextContents();
}

/** Waits until a run card shows that its run ended this way. */
export async function ended(run: Locator, status: 'completed' | 'cancelled' | 'error' = 'completed'): Promise<void> {
  await run.and(run.page().locator(`.run[data-status="${status}"]`)).waitFor({ timeout: 10_000 });
}
