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

let termIds: Record<string, number>;

/** Writes a score the way the wp-webhook function does: the meta and the model's tier term, one request. */
async function writeScore(id: number, score: number, percentile: number, tier: string): Promise<void> {
  const res = await api('POST', `wp/v2/media/${id}`, {
    meta: {
      mmlq_score: score,
      mmlq_std: 0.4,
      mmlq_percentile: percentile,
      mmlq_tier: tier,
      mmlq_model: 'mmlq@1.1.0',
      mmlq_scored_at: '2026-11-23T19:05:00.000Z',
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

const recompute = async () => JSON.parse(await wp.php('echo json_encode(mmlq_edge_recompute_library_tiers());'));

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
    expect(await tiers([photos[0]!.id])).toEqual({ [photos[0]!.id]: { term: 'top', lib: '100', model: 'good' } });
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
    const post = await api('POST', 'wp/v2/posts', { title: 'Hero', status: 'draft', featured_media: good.id });
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
