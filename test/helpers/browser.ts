/**
 * A real browser for what editors see: Debian's chromium (`.ci/browser-deps.sh` installs it) driven by
 * npm playwright-core, which downloads no browser of its own. See ../shared/notes/browser-testing.md.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { WordPress } from '#tools/local/wordpress.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No chromium at ${CHROMIUM}: run bash .ci/browser-deps.sh (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}

/** Logs the page into wp-admin as `user` (default: the harness's administrator). */
export async function logIn(
  page: Page,
  wp: WordPress,
  user: { user: string; password: string } = wp.admin,
): Promise<void> {
  await page.goto(`${wp.url}/wp-login.php`);
  await page.fill('#user_login', user.user);
  await page.fill('#user_pass', user.password);
  await Promise.all([page.waitForURL(/\/wp-admin\//), page.click('#wp-submit')]);
}

/**
 * Where a test's screenshots go: docs/images when UPDATE_SCREENSHOTS=1 (to refresh the docs' pictures),
 * otherwise `scratch` (a test run leaves the working tree as it was).
 */
export function screenshotDir(scratch: string): string {
  return process.env.UPDATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '../../docs/images')
    : join(scratch, 'screenshots');
}
