/**
 * The WordPress path end to end, every part real: a WordPress (MariaDB + PHP) with the plugin
 * (plugins/wordpress/mmlq-edge) → its signed webhook → wp-webhook under serverless-offline → the scorer
 * (Lambda invoke, fetching the image from WordPress by URL) → meta and the tier term written back over
 * the WordPress REST API with an application password. Uses a tiny model (test/helpers/tiny-model.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '#tools/local/stack.ts';
import type { WordPress } from '#tools/local/wordpress.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { type Rest, restClient, startWordPressWithStack, uploadMedia } from '../helpers/wordpress.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SECRET = randomBytes(32).toString('hex');

let dir: string;
let wp: WordPress;
let stack: Stack;
let jpeg: Buffer;

let rest: Rest;

const upload = async (name: string, bytes: Buffer, fields: Record<string, string> = {}) =>
  (await uploadMedia(rest, name, bytes, { fields })).id;

const media = async (id: number) => (await rest('GET', `wp/v2/media/${id}?context=edit`)).json;
/** The plugin's delivery state and what wp-webhook last answered ("scored", "duplicate", …). */
const delivery = async (id: number) =>
  (
    await wp.php(
      `echo get_post_meta(${id}, '_mmlq_edge_status', true) . '|' . get_post_meta(${id}, '_mmlq_edge_last_response', true);`,
    )
  ).trim();
const status = async (id: number) =>
  (
    await wp.php(
      `echo get_post_meta(${id}, '_mmlq_edge_status', true) . '|' . get_post_meta(${id}, '_mmlq_edge_last_error', true);`,
    )
  ).trim();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-wp-e2e-'));
  await writeTinyModel(join(dir, 'models'), { name: 'tiny', text: true });
  jpeg = await readFile(join(ROOT, 'test/fixtures/samples/rocket.jpg'));
  ({ wp, stack } = await startWordPressWithStack({
    dir,
    secret: SECRET,
    stack: { model: 'tiny', modelsDir: join(dir, 'models') },
  }));
  rest = restClient(wp);
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await wp?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('WordPress upload → plugin webhook → wp-webhook → scorer → meta and tier term', () => {
  it('scores a REST upload with its caption and alt text and writes the result back', async () => {
    const id = await upload('rocket.jpg', jpeg, {
      caption: 'Crisp launch, lovely light',
      alt_text: 'A rocket',
    });
    expect(await status(id)).toBe('pending|');
    await wp.runCron();
    expect(await status(id)).toBe('sent|');
    expect(await delivery(id)).toBe('sent|scored');
    const m = await media(id);
    expect(m.meta.mmlq_model).toBe('tiny@1.0.0');
    expect(m.meta.mmlq_score).toBeGreaterThan(1);
    expect(m.meta.mmlq_score).toBeLessThan(10);
    expect(['top', 'good', 'average', 'low']).toContain(m.meta.mmlq_tier);
    expect(m.meta.mmlq_error).toBe('');
    expect(m.meta.mmlq_key).toMatch(new RegExp(`^${wp.url.replace(/[.:/]/g, '\\$&')}#${id}#[0-9a-f]{64}#`));
    // The term is the library tier (the default basis), set in the function's own request: alone in
    // the library, this image is its best. The model's tier stays in the meta.
    const terms = (await rest('GET', `wp/v2/mmlq_tier?post=${id}`)).json;
    expect(terms.map((t: { slug: string }) => t.slug)).toEqual(['top']);
    expect(m.meta.mmlq_library_percentile).toBe(100);
    // The default crop_aspects setting (16:9) asked for a crop: stored as JSON with the near-duplicate key.
    expect(m.meta.mmlq_key).toMatch(/\+crops:16:9$/);
    expect(m.meta.mmlq_phash).toMatch(/^[0-9a-f]{16}$/);
    const crops = JSON.parse(m.meta.mmlq_crops);
    expect(crops).toHaveLength(1);
    const [crop] = crops;
    expect(Object.keys(crop)).toEqual(['aspect', 'left', 'top', 'width', 'height', 'score']);
    expect(crop.aspect).toBe('16:9');
    // rocket.jpg is 1024x683: the box lies inside it.
    expect(crop.left + crop.width).toBeLessThanOrEqual(1024);
    expect(crop.top + crop.height).toBeLessThanOrEqual(683);
    expect(Math.abs(crop.width - (crop.height * 16) / 9)).toBeLessThanOrEqual(3);
  });

  it('the crop_aspects setting: parsed, normalised, a bad value kept out, empty sends no crops', async () => {
    const php = (code: string) => wp.php(code).then((out) => out.trim());
    expect(await php(`echo implode('|', mmlq_edge_parse_aspects(' 16:9, 1:1,16:9 '));`)).toBe('16:9|1:1');
    expect(await php(`var_export(mmlq_edge_parse_aspects('16x9'));`)).toBe('NULL');
    expect(await php(`var_export(mmlq_edge_parse_aspects('1:1,2:1,3:1,4:1,5:1'));`)).toBe('NULL');
    expect(
      await php(
        `update_option('mmlq_edge_settings', array_merge(get_option('mmlq_edge_settings'), array('crop_aspects' => 'wide'))); echo mmlq_edge_settings()['crop_aspects'];`,
      ),
    ).toBe('16:9');
    const id = await upload('rocket-plain.jpg', jpeg);
    const noCrops = await php(
      `update_option('mmlq_edge_settings', array_merge(get_option('mmlq_edge_settings'), array('crop_aspects' => ''))); echo wp_json_encode(mmlq_edge_payload('attachment.upload', ${id})['attachment']['crops'] ?? null);`,
    );
    expect(noCrops).toBe('null');
    const two = await php(
      `update_option('mmlq_edge_settings', array_merge(get_option('mmlq_edge_settings'), array('crop_aspects' => '4:5, 1:1'))); echo wp_json_encode(mmlq_edge_payload('attachment.upload', ${id})['attachment']['crops']);`,
    );
    expect(JSON.parse(two)).toEqual(['4:5', '1:1']);
    await php(
      `update_option('mmlq_edge_settings', array_merge(get_option('mmlq_edge_settings'), array('crop_aspects' => '16:9'))); wp_delete_attachment(${id}, true);`,
    );
  });

  it('a burst of 12 concurrent uploads while WP-cron runs ends with every image scored', {
    timeout: 300_000,
  }, async () => {
    // Cron runs keep going while the uploads land (each upload schedules its own send; a cron run
    // rewrites WordPress's cron option from its own copy), as on a busy site.
    let uploading = true;
    const cron = (async () => {
      while (uploading) await wp.runCron();
    })();
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => upload(`burst-${i}.jpg`, jpeg)));
    uploading = false;
    await cron;
    // Then cron as WordPress would run it, until nothing is pending (each run sends at most 10).
    const pending = async () =>
      Number(
        (
          await wp.php(
            "global $wpdb; echo $wpdb->get_var(\"SELECT COUNT(*) FROM $wpdb->postmeta WHERE meta_key = '_mmlq_edge_status' AND meta_value IN ('pending', 'sending')\");",
          )
        ).trim(),
      );
    // Sends whose own events the burst lost are picked up by the plugin's runner, which WP-cron fires
    // every minute: each round here is "a minute later" (the runner made due), then a cron run.
    const minuteLater = () =>
      wp.php(
        "$t = wp_next_scheduled('mmlq_edge_run_queue'); if ($t) { wp_unschedule_event($t, 'mmlq_edge_run_queue'); } wp_schedule_event(time(), 'mmlq_edge_minute', 'mmlq_edge_run_queue');",
      );
    for (let run = 0; run < 12 && (await pending()) > 0; run++) {
      await minuteLater();
      await wp.runCron();
    }
    expect(await pending()).toBe(0);
    for (const id of ids) {
      expect(await delivery(id), `attachment ${id}`).toBe('sent|scored');
      const m = await media(id);
      expect(m.meta.mmlq_model).toBe('tiny@1.0.0');
      expect(m.meta.mmlq_score).toBeGreaterThan(1);
    }
  });

  it('nothing is lost when WordPress answers 500 or hangs: the plugin retries until every image is scored', {
    timeout: 300_000,
  }, async () => {
    // A fault in WordPress's REST API for one image (/wp/v2/media/<id>: what wp-webhook reads and writes;
    // the test's own uploads go to /wp/v2/media), from a must-use plugin of the test.
    const mu = join(wp.docroot, 'wp-content/mu-plugins/mmlq-edge-test-rest-fault.php');
    await writeFile(
      mu,
      `<?php
add_filter('rest_pre_dispatch', function ($result, $server, $request) {
  $fault = get_option('mmlq_test_rest_fault');
  if (!$fault || !preg_match('#^/wp/v2/media/\\d+#', $request->get_route())) { return $result; }
  if ('hang' === $fault) { sleep(8); return $result; }
  return new WP_Error('test_fault', 'injected', array('status' => 500));
}, 10, 3);
`,
    );
    const allDue = () =>
      wp.php(
        "global $wpdb; $wpdb->query(\"UPDATE $wpdb->postmeta SET meta_value = '0' WHERE meta_key = '_mmlq_edge_next_try'\"); $t = wp_next_scheduled('mmlq_edge_run_queue'); if ($t) { wp_unschedule_event($t, 'mmlq_edge_run_queue'); } wp_schedule_event(time(), 'mmlq_edge_minute', 'mmlq_edge_run_queue');",
      );
    const attempts = async (id: number) =>
      Number((await wp.php(`echo (int) get_post_meta(${id}, '_mmlq_edge_attempts', true);`)).trim());
    try {
      const ids: number[] = [];
      for (const fault of ['500', 'hang']) {
        await wp.php(`update_option('mmlq_test_rest_fault', '${fault}');`);
        const batch = await Promise.all([0, 1].map((i) => upload(`fault-${fault}-${i}.jpg`, jpeg)));
        // Cron until each image was tried once (its own event, or the runner a minute later).
        for (let run = 0; run < 4; run++) {
          if ((await Promise.all(batch.map(attempts))).every((n) => n >= 1)) break;
          await allDue();
          await wp.runCron();
        }
        for (const id of batch) {
          // wp-webhook answered 502 WORDPRESS_FAILED (an error, or no answer within WP_TIMEOUT_MS):
          // the image stays queued with its attempts counted and a next try.
          expect(await status(id), `attachment ${id} (${fault})`).toMatch(/^pending\|.*WORDPRESS_FAILED/);
          expect(await attempts(id)).toBeGreaterThanOrEqual(1);
        }
        ids.push(...batch);
      }
      await wp.php("delete_option('mmlq_test_rest_fault');");
      for (let run = 0; run < 6; run++) {
        const open = await Promise.all(ids.map(async (id) => (await delivery(id)) !== 'sent|scored'));
        if (!open.some(Boolean)) break;
        await allDue();
        await wp.runCron();
      }
      for (const id of ids) {
        expect(await delivery(id), `attachment ${id}`).toBe('sent|scored');
        expect((await media(id)).meta.mmlq_score).toBeGreaterThan(1);
      }
    } finally {
      await wp.php("delete_option('mmlq_test_rest_fault');");
      await rm(mu, { force: true });
    }
  });

  it('a re-sent delivery for the same image, text and model writes nothing; a new caption rescores', async () => {
    const id = await upload('again.jpg', jpeg, { caption: 'first caption' });
    await wp.runCron();
    const first = (await media(id)).meta;
    // Queue the same attachment again (as the bulk action does): delivered, answered "duplicate".
    await wp.php(`mmlq_edge_queue(${id}, 'attachment.rescore');`);
    await wp.runCron();
    expect(await delivery(id)).toBe('sent|duplicate');
    expect((await media(id)).meta.mmlq_scored_at).toBe(first.mmlq_scored_at);
    await rest('POST', `wp/v2/media/${id}`, { caption: 'blurry and far too dark' });
    await wp.runCron();
    expect(await delivery(id)).toBe('sent|scored');
    const second = (await media(id)).meta;
    expect(second.mmlq_key).not.toBe(first.mmlq_key);
    expect(second.mmlq_scored_at).not.toBe(first.mmlq_scored_at);
  });

  it('a corrupt image gets its error code written, and is not retried', async () => {
    const id = await upload('broken.jpg', jpeg.subarray(0, 4000));
    await wp.runCron();
    expect(await delivery(id)).toBe('sent|rejected');
    const m = await media(id);
    expect(m.meta.mmlq_error).toMatch(/^IMAGE_CORRUPT: /);
    expect(m.meta.mmlq_score).toBe(0);
  });

  it('a delivery signed with another secret is refused and the plugin shows why', async () => {
    const id = await upload('forged.jpg', jpeg);
    await wp.php(
      `$s = get_option('mmlq_edge_settings'); $s['secret'] = str_repeat('0', 64); update_option('mmlq_edge_settings', $s);`,
    );
    try {
      await wp.runCron();
      const [state, error] = (await status(id)).split('|');
      expect(state).toBe('failed');
      expect(error).toContain('401');
      expect((await media(id)).meta.mmlq_score).toBe(0);
    } finally {
      await wp.php(
        `$s = get_option('mmlq_edge_settings'); $s['secret'] = '${SECRET}'; update_option('mmlq_edge_settings', $s);`,
      );
    }
  });
});
