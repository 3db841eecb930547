/**
 * Debian's Chromium, driven by playwright-core. `.ci/run` installs it with apt-get when it is missing; where it
 * cannot, the browser suites skip and say why (BROWSER_MISSING), they never pass silently.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Why the browser suites cannot run here, or null when they can. */
export const BROWSER_MISSING: string | null = existsSync(CHROMIUM)
  ? null
  : `${CHROMIUM} is not installed (.ci/run installs the Debian package "chromium" with apt-get)`;
if (BROWSER_MISSING !== null) console.warn(`browser tests SKIPPED: ${BROWSER_MISSING}`);

/** Headless, with exactly the flags above; playwright gives every launch a fresh temporary --user-data-dir. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 });
}

/** Screenshots go here (git-ignored). */
export const RESULTS_DIR = fileURLToPath(new URL('../../../test-results/', import.meta.url));

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, name);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** WCAG contrast ratio of two `rgb(...)`/`rgba(...)` colours (alpha ignored: callers pass opaque ones). */
export function contrastRatio(foreground: string, background: string): number {
  const [l1, l2] = [foreground, background].map(relativeLuminance).sort((a, b) => b - a) as [number, number];
  return (l1 + 0.05) / (l2 + 0.05);
}

function relativeLuminance(color: string): number {
  const channels = /rgba?\(([^)]+)\)/
    .exec(color)?.[1]
    ?.split(/[\s,/]+/)
    .filter(Boolean)
    .slice(0, 3)
    .map(Number);
  if (channels?.length !== 3) throw new Error(`unreadable colour ${color}`);
  const [r, g, b] = channels.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
