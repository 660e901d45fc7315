/**
 * The media library for editors (issue 9, parts 4 and 5) on a real WordPress with the plugin: tiers
 * relative to this library, the list view's tier dropdown, the grid view's tier filter, Rescore, the
 * backfill that editors may run with live progress, readable dates, plural forms. PHP-level behaviour
 * through REST and wp.php(); what editors see in Debian's chromium (test/helpers/browser.ts).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWordPress, type WordPress } from '#tools/local/wordpress.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PLUGIN = join(ROOT, 'plugins/wordpress/mmlq-edge');
const SECRET = 'b4e2d1f0'.repeat(8);

let wp: WordPress;
let jpeg: Buffer;

const basic = () => `Basic ${Buffer.from(`${wp.admin.user}:${wp.admin.appPassword}`).toString('base64')}`;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { authorization: basic() };
  const init: RequestInit = { method, headers };
  if (Buffer.isBuffer(body)) init.body = new Uint8Array(body);
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(wp.rest(path), init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function upload(name: string): Promise<number> {
  const res = await fetch(wp.rest('wp/v2/media'), {
    method: 'POST',
    headers: {
      authorization: basic(),
      'content-type': 'image/jpeg',
      'content-disposition': `attachment; filename=${name}`,
    },
    body: new Uint8Array(jpeg),
  });
  const json = (await res.json()) as { id: number };
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json.id;
}

/** A wp-admin session of `user` (cookies) for server-rendered pages. */
async function session(user: { user: string; password: string }) {
  const res = await fetch(`${wp.url}/wp-login.php`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: 'wordpress_test_cookie=WP%20Cookie%20check',
    },
    body: new URLSearchParams({ log: user.user, pwd: user.password, 'wp-submit': 'Log In', testcookie: '1' }),
  });
  expect(res.status).toBe(302);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return async (path: string) => {
    const r = await fetch(`${wp.url}${path}`, { redirect: 'manual', headers: { cookie } });
    return { status: r.status, html: await r.text(), location: r.headers.get('location') ?? '' };
  };
}

beforeAll(async () => {
  jpeg = await readFile(join(ROOT, 'test/fixtures/samples/rocket.jpg'));
  wp = await startWordPress({
    plugins: [PLUGIN],
    options: {
      // The endpoint is never reached in this file (cron only runs when a test says so, and no test
      // needs a delivery to arrive): deliveries are only queued.
      mmlq_edge_settings: {
        endpoint: 'http://127.0.0.1:9/v1/wordpress/webhook',
        secret: SECRET,
        enabled: true,
        max_attempts: 3,
        timeout: 2,
        include_comments: false,
      },
    },
    log: (line) => console.log(line),
  });
});

afterAll(async () => {
  await wp?.stop();
});

describe('media list (server-rendered)', () => {
  it('renders the tier dropdown in list view (WordPress 6.1 passes "bar", not "top")', async () => {
    const admin = await session(wp.admin);
    const list = await admin('/wp-admin/upload.php?mode=list');
    expect(list.status).toBe(200);
    expect(list.html).toContain('id="mmlq-edge-tier-filter"');
    expect(list.html.match(/id="mmlq-edge-tier-filter"/g)).toHaveLength(1);
  });
});
