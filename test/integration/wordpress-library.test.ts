/**
 * The media library for editors (issue 9, parts 4 and 5) on a real WordPress with the plugin: tiers
 * relative to this library, the list view's tier dropdown, the grid view's tier filter, Rescore, the
 * backfill that editors may run with live progress, readable dates, plural forms. PHP-level behaviour
 * through REST and wp.php(); what editors see in Debian's chromium (test/helpers/browser.ts).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWordPress, type WordPress } from '#tools/local/wordpress.ts';
import { launchBrowser, logIn, screenshotDir } from '../helpers/browser.ts';
import {
  adminSession,
  createUser,
  type Rest,
  restClient,
  uploadMedia,
  type WordPressUser,
} from '../helpers/wordpress.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PLUGIN = join(ROOT, 'plugins/wordpress/mmlq-edge');
const SECRET = 'b4e2d1f0'.repeat(8);

let wp: WordPress;
let jpeg: Buffer;

let api: Rest;

const upload = async (name: string): Promise<number> => (await uploadMedia(api, name, jpeg)).id;

/** A wp-admin session of `user` (cookies) for server-rendered pages. */
const session = (user: { user: string; password: string }) =>
  adminSession(wp, { user, referer: '/wp-admin/upload.php?mode=list' });

/** A user of `role` with a known password and an application password. */
const user = (role: string) => createUser(wp, `lib-${role}`, role, { password: `pw-${role}-${Date.now()}` });

/** A REST request as `auth`. */
const apiAs = (auth: string, method: string, path: string, body?: unknown) =>
  restClient(wp, { auth })(method, path, body);

const status = async (id: number) =>
  (
    await wp.php(
      `echo get_post_meta(${id}, '_mmlq_edge_status', true), '|', get_post_meta(${id}, '_mmlq_edge_event', true);`,
    )
  ).trim();

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
  api = restClient(wp);
});

afterAll(async () => {
  await wp?.stop();
});

let termIds: Record<string, number>;

/** Writes a score the way the wp-webhook function does: the meta and the model's tier term, one request. */
async function writeScore(
  id: number,
  score: number,
  percentile: number,
  tier: string,
  scored: { model: string; at: string } = { model: 'mmlq@1.1.0', at: '2026-11-23T19:05:00.000Z' },
): Promise<void> {
  const res = await api('POST', `wp/v2/media/${id}`, {
    meta: {
      mmlq_score: score,
      mmlq_std: 0.4,
      mmlq_percentile: percentile,
      mmlq_tier: tier,
      mmlq_model: scored.model,
      mmlq_scored_at: scored.at,
      mmlq_attributes: JSON.stringify({ sharp: 0.9 }),
      mmlq_error: '',
    },
    mmlq_tier: [termIds[tier]],
  });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
}

/** Each image's tier term, library percentile and model tier, read in PHP. */
async function tiers(ids: number[]): Promise<Record<number, { term: string; lib: string; model: string }>> {
  return JSON.parse(
    await wp.php(`
      $out = [];
      foreach ([${ids.join(',')}] as $id) {
        clean_post_cache($id);
        $out[$id] = [
          'term' => implode(',', wp_get_object_terms($id, 'mmlq_tier', ['fields' => 'slugs'])),
          'lib' => (string) get_post_meta($id, 'mmlq_library_percentile', true),
          'model' => (string) get_post_meta($id, 'mmlq_tier', true),
        ];
      }
      echo json_encode($out);`),
  );
}

const recompute = async () =>
  JSON.parse(await wp.php('echo json_encode(mmlq_edge_recompute_library_tiers());'));

/** The 12 "professional" images of the library: the model calls them all good or top. */
const photos: { id: number; score: number; pct: number; tier: string }[] = [];

describe('library-relative tiers', () => {
  it('puts the best 10 % of this library in "top" as scores arrive, beside the model percentile', async () => {
    termIds = Object.fromEntries(
      ((await api('GET', 'wp/v2/mmlq_tier?per_page=10')).json as { id: number; slug: string }[]).map((t) => [
        t.slug,
        t.id,
      ]),
    );
    expect(Object.keys(termIds).sort()).toEqual(['average', 'good', 'low', 'top']);
    for (let i = 0; i < 12; i++) {
      const id = await upload(`pro-${i}.jpg`);
      // Scores 6.00, 6.10, ... 7.10: model percentiles 71-93.5, "top" from 90 on.
      const score = 6 + i / 10;
      const pct = 71 + i * 2.05;
      photos.push({ id, score, pct, tier: pct >= 90 ? 'top' : 'good' });
    }
    // The first score: alone in the library it is the best (100), and its term is the library tier at
    // once, in the function's own request (the model said "good").
    await writeScore(photos[0]!.id, photos[0]!.score, photos[0]!.pct, photos[0]!.tier);
    expect(await tiers([photos[0]!.id])).toEqual({
      [photos[0]!.id]: { term: 'top', lib: '100', model: 'good' },
    });
    expect((await wp.php("var_export(false !== wp_next_scheduled('mmlq_edge_library_tiers'));")).trim()).toBe(
      'true',
    );
    for (const p of photos.slice(1)) await writeScore(p.id, p.score, p.pct, p.tier);
    // One recompute covers all of them (the event is scheduled once however many scores arrive).
    const events = await wp.php(
      "echo count(array_filter(_get_cron_array(), fn($h) => isset($h['mmlq_edge_library_tiers'])));",
    );
    expect(events.trim()).toBe('1');
    await wp.runCron();
    const after = await tiers(photos.map((p) => p.id));
    // Best first: 12 images; "top" = best 10 % (1.2 images: the best), "good" = best 35 % (4.2: 2nd-4th),
    // "average" = best 75 % (9: 5th-9th), "low" the other 3. The model put 10 in "good" and 2 in "top".
    const best = [...photos].reverse();
    expect(best.map((p) => after[p.id]!.term)).toEqual([
      'top',
      'good',
      'good',
      'good',
      'average',
      'average',
      'average',
      'average',
      'average',
      'low',
      'low',
      'low',
    ]);
    expect(best.map((p) => Number(after[p.id]!.lib))).toEqual(
      best.map((_, i) => Math.round((1000 * (12 - i)) / 12) / 10),
    );
    expect(best.map((p) => after[p.id]!.model)).toEqual(best.map((p) => p.tier));
    // Nothing changed since: nothing is written.
    expect(await recompute()).toEqual({ images: 12, percentiles: 0, terms: 0 });
  });

  it('keeps the tiers current: a better newcomer moves the others, writing only what changed', async () => {
    const id = await upload('newcomer.jpg');
    await writeScore(id, 9.5, 99, 'top');
    // Every other image's percentile moves (13 images now), but only the old best crosses a tier
    // boundary (top → good): one term written.
    expect(await recompute()).toEqual({ images: 13, percentiles: 12, terms: 1 });
    await wp.runCron();
    const best = [id, ...[...photos].reverse().map((p) => p.id)];
    const after = await tiers(best);
    // 13 images: top = best 1.3 (the newcomer), good = best 4.55 (2nd-5th), average = best 9.75 (6th-10th).
    expect(best.map((i) => after[i]!.term).join(' ')).toBe(
      'top good good good good average average average average average low low low',
    );
    expect(after[id]!.lib).toBe('100');
    expect(after[best[1]!]!.lib).toBe(String(Math.round(1000 * (12 / 13)) / 10));
    // Ties share the better place; the function's request already wrote the new place (nothing left
    // for the recompute).
    await writeScore(photos[0]!.id, photos[1]!.score, photos[1]!.pct, 'good');
    expect(await recompute()).toEqual({ images: 13, percentiles: 0, terms: 0 });
    const tie = await tiers([photos[0]!.id, photos[1]!.id]);
    expect(tie[photos[0]!.id]!.lib).toBe(tie[photos[1]!.id]!.lib);
    await writeScore(photos[0]!.id, photos[0]!.score, photos[0]!.pct, 'good');
    await wp.runCron();
    // The library percentile is readable with the score (edit context) and nobody writes it over REST.
    const read = await api('GET', `wp/v2/media/${id}?context=edit`);
    expect(read.json.meta.mmlq_library_percentile).toBe(100);
    const write = await api('POST', `wp/v2/media/${id}`, { meta: { mmlq_library_percentile: 1 } });
    expect(write.status).toBe(403);
    photos.push({ id, score: 9.5, pct: 99, tier: 'top' });
  });

  it('follows the model on the model basis; refuses inconsistent shares; best-image says whether it is "top"', async () => {
    const ids = photos.map((p) => p.id);
    await wp.php("update_option('mmlq_edge_tiers', ['basis' => 'model'] + mmlq_edge_tier_settings());");
    await wp.runCron();
    const model = await tiers(ids);
    expect(ids.map((i) => model[i]!.term)).toEqual(ids.map((i) => model[i]!.model));
    // Percentiles stay (shown beside the model's either way).
    expect(model[photos.at(-1)!.id]!.lib).toBe('100');

    const refused = await wp.php(`
      update_option('mmlq_edge_tiers', ['basis' => 'library', 'top' => 40, 'good' => 30, 'average' => 75, 'hero_min' => 'good']);
      echo json_encode(get_option('mmlq_edge_tiers'));`);
    expect(JSON.parse(refused)).toMatchObject({ basis: 'model', top: 10, good: 35, average: 75 });
    await wp.php(
      "update_option('mmlq_edge_tiers', ['basis' => 'library', 'top' => 20, 'good' => 50, 'average' => 80, 'hero_min' => 'top']);",
    );
    await wp.runCron();
    const library = await tiers(ids);
    // 13 images, best 20 % = 2.6, rounded: the three best are "top".
    expect(ids.filter((i) => library[i]!.term === 'top').sort()).toEqual(
      [photos.at(-1)!.id, photos[11]!.id, photos[10]!.id].sort(),
    );

    // best-image: a post whose best image is "good" is not "top" while only "top" counts, then is.
    const good = photos.find((p) => library[p.id]!.term === 'good')!;
    const post = await api('POST', 'wp/v2/posts', {
      title: 'Hero',
      status: 'draft',
      featured_media: good.id,
    });
    expect(post.status).toBe(201);
    const pick = await api('GET', `mmlq-edge/v1/posts/${post.json.id}/best-image`);
    expect(pick.json).toMatchObject({ attachment: good.id, tier: 'good', top: false });
    await wp.php("update_option('mmlq_edge_tiers', ['hero_min' => 'good'] + mmlq_edge_tier_settings());");
    expect((await api('GET', `mmlq-edge/v1/posts/${post.json.id}/best-image`)).json.top).toBe(true);
    // Back to the defaults for the tests below.
    await wp.php("delete_option('mmlq_edge_tiers'); mmlq_edge_recompute_library_tiers();");
  });
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

let author: WordPressUser;

describe('editors in the media library (server-rendered and REST)', () => {
  it("filters the list by tier, and the grid's attachments query by its mmlq_tier arg", async () => {
    const admin = await session(wp.admin);
    const top = photos.filter((p) => p.id === photos.at(-1)!.id).map((p) => p.id);
    const list = await admin('/wp-admin/upload.php?mode=list&mmlq_tier=top');
    const rows = [...list.html.matchAll(/<tr id="post-(\d+)"/g)].map((m) => Number(m[1]));
    expect(rows).toEqual(top);
    expect(list.html).toMatch(/<option value="top"\s+selected='selected'>Top<\/option>/);
    // Both percentiles beside the score in the column.
    expect(list.html).toMatch(
      /<span class="mmlq-edge-percentiles description">library 100\.0 · model 99\.0<\/span>/,
    );

    const grid = await admin('/wp-admin/admin-ajax.php', {
      action: 'query-attachments',
      'query[mmlq_tier]': 'good',
      'query[posts_per_page]': '80',
    });
    expect(grid.status).toBe(200);
    const good = JSON.parse(grid.html);
    expect(good.success).toBe(true);
    const goodIds = await tiers(photos.map((p) => p.id));
    expect((good.data as { id: number }[]).map((a) => a.id).sort()).toEqual(
      photos
        .filter((p) => goodIds[p.id]!.term === 'good')
        .map((p) => p.id)
        .sort(),
    );
    expect(good.data.length).toBe(4);
    const all = JSON.parse(
      (
        await admin('/wp-admin/admin-ajax.php', {
          action: 'query-attachments',
          'query[posts_per_page]': '80',
        })
      ).html,
    );
    expect(all.data.length).toBeGreaterThan(good.data.length);
  });

  it('rescore: a row action and an attachment-field button for scored images, and a REST route', async () => {
    const admin = await session(wp.admin);
    const target = photos[3]!.id;
    const list = await admin('/wp-admin/upload.php?mode=list');
    const link = new RegExp(
      `<a class="mmlq-edge-rescore" href="([^"]*action=mmlq_edge_retry(?:&|&amp;|&#038;)attachment=${target}[^"]*)">Rescore</a>`,
    ).exec(list.html);
    expect(link, 'Rescore row action').not.toBeNull();
    // Unscored images have no Rescore (they have "Score").
    const unscored = await upload('unscored.jpg');
    const again = await admin('/wp-admin/upload.php?mode=list');
    const row = again.html.split(`<tr id="post-${unscored}"`)[1]!.split('</tr>')[0]!;
    expect(row).not.toContain('mmlq-edge-rescore');
    // Still queued from its upload (this file's endpoint never answers): Rescore makes it a rescore.
    expect(await status(target)).toBe('pending|attachment.upload');
    const go = await admin(link![1]!.replace(/&amp;|&#038;/g, '&').replace(wp.url, ''));
    expect(go.status).toBe(302);
    expect(go.location).toContain('mmlq_edge_queued=1');
    expect(await status(target)).toBe('pending|attachment.rescore');
    const notice = await admin(go.location.replace(wp.url, ''));
    expect(notice.html).toContain('1 image queued for scoring.');

    const edit = await admin(`/wp-admin/post.php?post=${photos[4]!.id}&action=edit`);
    expect(edit.html).toMatch(/<a class="button mmlq-edge-rescore" href="[^"]*attachment=\d+/);
    // Readable dates: the site's formats, not the stored ISO text.
    expect(edit.html).toContain('November 23, 2026 at 7:05 pm');
    expect(edit.html).not.toContain('2026-11-23T19:05');
    expect(edit.html).toContain('Percentile in this library');

    const rest = await api('POST', `mmlq-edge/v1/attachments/${photos[5]!.id}/rescore`);
    expect(rest.status).toBe(202);
    expect(rest.json).toEqual({ attachment: photos[5]!.id, event: 'attachment.rescore', status: 'pending' });
    author = await user('author');
    expect(
      (await apiAs(author.auth, 'POST', `mmlq-edge/v1/attachments/${photos[5]!.id}/rescore`)).status,
    ).toBe(403);
  });

  it('editors may run the backfill and read its progress; authors may not', async () => {
    const editor = await user('editor');
    const idle = await apiAs(editor.auth, 'GET', 'mmlq-edge/v1/backfill');
    expect(idle.status).toBe(200);
    expect(idle.json.state).toBe('idle');
    const unscored = idle.json.unscored as number;
    expect(unscored).toBeGreaterThanOrEqual(1);
    const start = await apiAs(editor.auth, 'POST', 'mmlq-edge/v1/backfill');
    expect(start.status).toBe(202);
    expect(start.json).toMatchObject({ state: 'running', queued: 0, total: unscored });
    await wp.runCron();
    const done = await apiAs(editor.auth, 'GET', 'mmlq-edge/v1/backfill');
    expect(done.json).toMatchObject({ state: 'done', queued: unscored, total: unscored });
    expect(done.json.finished).toMatch(/^[A-Z][a-z]+ \d{1,2}, \d{4} at \d{1,2}:\d{2} [ap]m$/);
    expect(done.json.message).toContain(
      unscored === 1 ? 'Last "score all": 1 image queued' : `Last "score all": ${unscored} images queued`,
    );
    // Authors upload but may not edit others' posts: no backfill.
    expect((await apiAs(author.auth, 'GET', 'mmlq-edge/v1/backfill')).status).toBe(403);
    expect((await apiAs(author.auth, 'POST', 'mmlq-edge/v1/backfill')).status).toBe(403);
    const authorPage = await (await session(author))('/wp-admin/upload.php?page=mmlq-edge-library');
    expect(authorPage.status).toBe(403);
    // The page under Media, for editors.
    const page = await (await session(editor))('/wp-admin/upload.php?page=mmlq-edge-library');
    expect(page.status).toBe(200);
    expect(page.html).toContain('id="mmlq-edge-backfill"');
    expect(page.html).toContain('mmlq-edge/assets/js/backfill.js');
  });

  it('uses plural forms for counts', async () => {
    const out = JSON.parse(
      await wp.php(`echo json_encode([
        mmlq_edge_progress_text(['state' => 'done', 'queued' => 1, 'finished' => 1764529200], ['pending' => 0, 'sending' => 0, 'sent' => 1, 'failed' => 0]),
        mmlq_edge_progress_text(['state' => 'running', 'queued' => 0, 'total' => 1], ['pending' => 1, 'sending' => 0, 'sent' => 0, 'failed' => 0]),
      ]);`),
    );
    expect(out[0]).toMatch(
      /^Last "score all": 1 image queued, finished November 30, 2025 at \d+:\d{2} [ap]m\. Now: 0 queued, 1 sent, 0 failed; \d+ images? (has|have) no score\.$/,
    );
    expect(out[1]).toMatch(/^Scoring all unscored images: 0 of 1 image queued so far\./);
    const n = Number((await wp.php('echo mmlq_edge_unscored_count();')).trim());
    expect(out[0]).toContain(n === 1 ? '1 image has no score.' : `${n} images have no score.`);
  });

  it("saves the tier settings from the settings page's own form, which explains both bases", async () => {
    const admin = await session(wp.admin);
    const page = await admin('/wp-admin/options-general.php?page=mmlq-edge');
    expect(page.html).toContain('id="mmlq-edge-tiers"');
    expect(page.html).toContain(
      'The library percentile compares it with the other scored images on this site',
    );
    const form = page.html.split('class="mmlq-edge-tier-settings"')[1]!.split('</form>')[0]!;
    const fields: Record<string, string> = {};
    for (const m of form.matchAll(
      /<input type=["']hidden["'][^>]*?name=["']([^"']+)["'][^>]*?value=["']([^"']*)["']/g,
    ))
      fields[m[1]!] = m[2]!;
    expect(fields['option_page']).toBe('mmlq_edge_tiers');
    const saved = await admin('/wp-admin/options.php', {
      ...fields,
      'mmlq_edge_tiers[basis]': 'model',
      'mmlq_edge_tiers[top]': '5',
      'mmlq_edge_tiers[good]': '30',
      'mmlq_edge_tiers[average]': '70',
      'mmlq_edge_tiers[hero_min]': 'top',
    });
    expect(saved.status).toBe(302);
    expect(JSON.parse(await wp.php("echo json_encode(get_option('mmlq_edge_tiers'));"))).toEqual({
      basis: 'model',
      top: 5,
      good: 30,
      average: 70,
      hero_min: 'top',
    });
    await wp.php("delete_option('mmlq_edge_tiers'); mmlq_edge_recompute_library_tiers();");
  });
});

describe('what editors see in chromium', { timeout: 180_000 }, () => {
  let browser: Browser;
  const SHOT = () => join(screenshotDir(wp.dir), 'wordpress-media-tiers.png');

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Runs WP-cron, as visits to the site would, while the page polls, until it shows the backfill done. */
  async function cronUntilDone(page: Page): Promise<void> {
    let running = true;
    const cron = (async () => {
      while (running) await wp.runCron();
    })();
    try {
      await page.locator('.mmlq-edge-state[data-state="done"]').waitFor({ timeout: 60_000 });
    } finally {
      running = false;
      await cron;
    }
  }

  async function pageAs(who: { user: string; password: string }): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await logIn(page, wp, who);
    return page;
  }

  const termsNow = async () => tiers(photos.map((p) => p.id));

  it('list view: the tier dropdown filters the rows (screenshot for docs/WORDPRESS.md)', async () => {
    // As if the function had answered every delivery (this file's endpoint never does): the column shows
    // scores, not "rescore queued".
    await wp.php(
      `foreach ([${photos.map((p) => p.id).join(',')}] as $id) { update_post_meta($id, '_mmlq_edge_status', 'sent'); wp_clear_scheduled_hook('mmlq_edge_send', [$id]); }`,
    );
    const page = await pageAs(wp.admin);
    await page.goto(`${wp.url}/wp-admin/upload.php?mode=list&orderby=mmlq_score&order=desc`);
    await page.locator('#mmlq-edge-tier-filter').waitFor();
    await mkdir(dirname(SHOT()), { recursive: true });
    await page.screenshot({ path: SHOT() });
    const terms = await termsNow();
    await page.selectOption('#mmlq-edge-tier-filter', 'good');
    await Promise.all([page.waitForURL(/mmlq_tier=good/), page.click('#post-query-submit')]);
    const rows = await page
      .locator('#the-list tr[id^=post-]')
      .evaluateAll((trs) => trs.map((tr) => Number(tr.id.slice(5))));
    expect(rows.sort()).toEqual(
      photos
        .filter((p) => terms[p.id]!.term === 'good')
        .map((p) => p.id)
        .sort(),
    );
    expect(rows).toHaveLength(4);
    expect(await page.locator('#mmlq-edge-tier-filter').inputValue()).toBe('good');
    await page.context().close();
  });

  it('grid view: the tier filter narrows the attachments', async () => {
    const page = await pageAs(wp.admin);
    await page.goto(`${wp.url}/wp-admin/upload.php?mode=grid`);
    const filter = page.locator('#mmlq-edge-grid-tier-filter');
    await filter.waitFor();
    const ids = () =>
      page
        .locator('.attachments-browser ul.attachments li.attachment')
        .evaluateAll((lis) => lis.map((li) => Number(li.getAttribute('data-id'))));
    await expect.poll(async () => (await ids()).length, { timeout: 30_000 }).toBeGreaterThan(5);
    await filter.selectOption('top');
    const best = photos.at(-1)!.id;
    await expect.poll(ids, { timeout: 30_000 }).toEqual([best]);
    await filter.selectOption('low');
    const terms = await termsNow();
    await expect
      .poll(async () => (await ids()).sort(), { timeout: 30_000 })
      .toEqual(
        photos
          .filter((p) => terms[p.id]!.term === 'low')
          .map((p) => p.id)
          .sort(),
      );
    await page.context().close();
  });

  it('Rescore queues a scored image; its details show readable dates and the two percentiles', async () => {
    const page = await pageAs(wp.admin);
    const target = photos[6]!.id;
    await page.goto(`${wp.url}/wp-admin/upload.php?mode=list`);
    await page.hover(`#post-${target}`);
    await Promise.all([
      page.waitForURL(/mmlq_edge_queued=1/),
      page.click(`#post-${target} .row-actions a.mmlq-edge-rescore`),
    ]);
    await expect
      .poll(() => page.locator('.notice-success').first().textContent())
      .toContain('1 image queued for scoring.');
    expect(await status(target)).toBe('pending|attachment.rescore');

    // The media modal of the grid view: the attachment field with the readable date and Rescore.
    await page.goto(`${wp.url}/wp-admin/upload.php?mode=grid`);
    await page.click(`li.attachment[data-id="${photos[7]!.id}"]`);
    const details = page.locator('.media-modal .mmlq-edge-score');
    await details.waitFor({ timeout: 30_000 });
    const text = (await details.textContent()) ?? '';
    expect(text).toContain('November 23, 2026 at 7:05 pm');
    expect(text).not.toContain('2026-11-23T');
    expect(text).toContain('Percentile in this library');
    expect(text).toContain('Percentile (model)');
    await expect.poll(() => page.locator('.media-modal a.mmlq-edge-rescore').count()).toBe(1);
    await page.context().close();
  });

  it('an editor runs the backfill from Media → Aesthetic scores and sees its progress move to done', async () => {
    const editor = await createUser(wp, 'lib-editor2', 'editor', { password: `pw-${Date.now()}` });
    const fresh = [await upload('old-1.jpg'), await upload('old-2.jpg')];
    const page = await pageAs(editor);
    await page.goto(`${wp.url}/wp-admin/upload.php?page=mmlq-edge-library`);
    // Every state the page shows, in order (browser code as text: this project's TypeScript has no DOM).
    await page.evaluate(`
      window.mmlqStates = [];
      const el = document.querySelector('.mmlq-edge-state');
      new MutationObserver(() => window.mmlqStates.push(el.getAttribute('data-state'))).observe(el, { attributes: true });
    `);
    await page.click('#mmlq-edge-backfill');
    await page.locator('.mmlq-edge-state[data-state="running"]').waitFor();
    expect(await page.locator('.mmlq-edge-progress').textContent()).toMatch(
      /^Scoring all unscored images: 0 of \d+ images queued so far\./,
    );
    await cronUntilDone(page);
    expect(await page.locator('.mmlq-edge-state').textContent()).toBe('Done');
    const line = (await page.locator('.mmlq-edge-progress').textContent()) ?? '';
    expect(line).toMatch(
      /^Last "score all": \d+ images queued, finished [A-Z][a-z]+ \d{1,2}, \d{4} at \d{1,2}:\d{2} [ap]m\./,
    );
    const bar = page.locator('#mmlq-edge-backfill-bar');
    expect(await bar.getAttribute('value')).toBe(await bar.getAttribute('max'));
    const states = (await page.evaluate('window.mmlqStates')) as string[];
    expect(states.indexOf('running')).toBeGreaterThanOrEqual(0);
    expect(states.lastIndexOf('done')).toBeGreaterThan(states.indexOf('running'));
    for (const id of fresh) expect((await status(id)).startsWith('pending|')).toBe(true);
    await page.context().close();
  });

  it('after a model change: names the model versions ranked together, and rescores what the older one scored', async () => {
    const editor = await createUser(wp, 'lib-editor3', 'editor', { password: `pw-${Date.now()}` });
    const rest = (method: string, path: string, body?: unknown) => apiAs(editor.auth, method, path, body);
    const before = (await rest('GET', 'mmlq-edge/v1/backfill')).json;
    expect(Object.keys(before.models)).toEqual(['mmlq@1.1.0']); // every score so far is 1.1.0's
    expect(before).toMatchObject({ newest: 'mmlq@1.1.0', older: 0 });
    const single = await pageAs(editor);
    await single.goto(`${wp.url}/wp-admin/upload.php?page=mmlq-edge-library`);
    expect(await single.locator('.mmlq-edge-older-models').count()).toBe(0);
    await single.context().close();

    // The scorer's model changes: two new uploads are scored by 1.2.0.
    const newer = [await upload('new-model-1.jpg'), await upload('new-model-2.jpg')];
    for (const id of newer)
      await writeScore(id, 6.1, 80, 'good', { model: 'mmlq@1.2.0', at: '2026-12-01T08:00:00.000Z' });
    const older = JSON.parse(
      await wp.php("echo json_encode(mmlq_edge_older_model_ids('mmlq@1.2.0', 0, 1000));"),
    ) as number[];
    const n = before.models['mmlq@1.1.0'] as number;
    expect(older).toHaveLength(n);
    const mixed = (await rest('GET', 'mmlq-edge/v1/backfill')).json;
    expect(mixed).toMatchObject({
      models: { 'mmlq@1.1.0': n, 'mmlq@1.2.0': 2 },
      newest: 'mmlq@1.2.0',
      older: n,
    });
    // Every image as delivered, so that what the run queues shows.
    await wp.php(
      `foreach ([${[...older, ...newer].join(',')}] as $id) { update_post_meta($id, '_mmlq_edge_status', 'sent'); }`,
    );

    const page = await pageAs(editor);
    await page.goto(`${wp.url}/wp-admin/upload.php?page=mmlq-edge-library`);
    expect(await page.locator('.mmlq-edge-older-models p').textContent()).toBe(
      `Scores of 2 model versions are ranked together here, though they are not on one scale: mmlq@1.1.0: ${n} images; mmlq@1.2.0: 2 images (the newest score's). Rescore the images an older model scored to rank the library on one scale.`,
    );
    const button = page.locator('#mmlq-edge-rescore-older');
    expect(await button.getAttribute('value')).toBe(`Rescore the ${n} images an older model scored`);
    await button.click();
    await page.locator('.mmlq-edge-state[data-state="running"]').waitFor();
    expect(await page.locator('.mmlq-edge-progress').textContent()).toMatch(
      new RegExp(`^Rescoring images an older model scored: 0 of ${n} images queued so far\\.`),
    );
    await cronUntilDone(page);
    expect(await page.locator('.mmlq-edge-progress').textContent()).toMatch(
      new RegExp(`^Last "rescore older": ${n} images queued, finished `),
    );
    await page.context().close();
    for (const id of older) expect(await status(id), String(id)).not.toMatch(/^sent\|/);
    for (const id of newer) expect(await status(id), String(id)).toMatch(/^sent\|/);
    expect((await rest('GET', 'mmlq-edge/v1/backfill')).json).toMatchObject({
      state: 'done',
      mode: 'older',
      total: n,
      queued: n,
    });
    // Authors may not start it.
    expect((await apiAs(author.auth, 'POST', 'mmlq-edge/v1/backfill', { mode: 'older' })).status).toBe(403);
    expect((await rest('POST', 'mmlq-edge/v1/backfill', { mode: 'stale' })).status).toBe(400);
  });
});

describe('PHP errors', () => {
  it('the plugin logged no PHP warnings or errors in this file', async () => {
    await wp.php("error_log('test: the debug log is on');");
    const log = await readFile(wp.debugLog, 'utf8');
    expect(log).toContain('test: the debug log is on');
    expect(log.split('\n').filter((l) => /mmlq-edge\/|mmlq_edge/.test(l))).toEqual([]);
  });
});
