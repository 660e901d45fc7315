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

/**
 * Logs the page into wp-admin as `user` (default: the harness's administrator). CI once saw WordPress
 * answer "The password field is empty" to this form (one login of a few hundred). A suspect, not
 * reproduced (60 fills timed around it): the page's own script moves the focus to the user field and
 * selects it 200 ms after it runs (wp_attempt_focus in wp-login.php), which landing inside the password's
 * fill would type it into the user field. So the fields are filled after that focus, and both are
 * checked before the submit. A miss prints what the browser saw and whether the server answers, and the
 * login is tried once more; a second miss fails.
 */
export async function logIn(
  page: Page,
  wp: WordPress,
  user: { user: string; password: string } = wp.admin,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await page.goto(`${wp.url}/wp-login.php`);
    await page.waitForFunction('document.activeElement && document.activeElement.id === "user_login"');
    await page.fill('#user_login', user.user);
    await page.fill('#user_pass', user.password);
    try {
      const held = [await page.inputValue('#user_login'), await page.inputValue('#user_pass')];
      if (held[0] !== user.user || held[1] !== user.password) {
        throw new Error(
          `the form did not keep what was typed (user field ${held[0] === user.user ? 'as typed' : `of ${held[0]!.length} characters`}, password field of ${held[1]!.length} characters)`,
        );
      }
      await Promise.all([page.waitForURL(/\/wp-admin\//, { timeout: 20_000 }), page.click('#wp-submit')]);
      return;
    } catch (error) {
      const why = `Logging in as ${user.user} (try ${attempt}) did not reach wp-admin: ${(error as Error).message.split('\n')[0]}; ${await loginState(page, wp)}`;
      if (attempt === 2) throw new Error(why, { cause: error });
      console.warn(`${why}; trying once more`);
    }
  }
}

/** Where the browser is, what WordPress said there, its cookies, and whether the server answers now. */
async function loginState(page: Page, wp: WordPress): Promise<string> {
  const said = await page
    .locator('#login_error, .message, .notice')
    .allTextContents()
    .catch((e: unknown) => [`(unreadable: ${String(e)})`]);
  const cookies = await page
    .context()
    .cookies()
    .then((all) => all.map((c) => c.name))
    .catch(() => []);
  const started = Date.now();
  const server = await fetch(`${wp.url}/wp-login.php`, { signal: AbortSignal.timeout(5_000) })
    .then((r) => `answers ${r.status} in ${Date.now() - started} ms`)
    .catch((e: unknown) => `does not answer in 5 s (${String(e)})`);
  return `at ${page.url()}, WordPress said ${JSON.stringify(said)}, cookies ${JSON.stringify(cookies)}, the server ${server}`;
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
