/**
 * The hero picker's REST routes and the featured image on publish (plugins/wordpress/mmlq-edge/includes/
 * hero.php, hero-crop.php) on a real WordPress (tools/local/wordpress.ts). Scores, perceptual hashes and
 * crop boxes are written as attachment meta the way wp-webhook writes them, so every case is exact; the
 * browser test (wordpress-hero.test.ts) drives the same routes from the editor with real scoring.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWordPress, type WordPress } from '#tools/local/wordpress.ts';
import { adminAuth, createUser, restClient, uploadMedia } from '../helpers/wordpress.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PLUGIN = join(ROOT, 'plugins/wordpress/mmlq-edge');

let wp: WordPress;
let rocket: Buffer;
let rocketSmall: Buffer;
let storm: Buffer;

const basic = () => adminAuth(wp);

/** A REST request as `auth` (default: the administrator; null: anonymous). */
const api = (method: string, path: string, body?: unknown, auth: string | null = basic()) =>
  restClient(wp, { auth })(method, path, body);

const upload = async (name: string, bytes: Buffer, post?: number, auth = basic()): Promise<number> =>
  (await uploadMedia(restClient(wp, { auth }), name, bytes, { query: post ? { post } : {} })).id;

/** Writes meta as wp-webhook does (JSON values as JSON text). */
async function scoreMeta(id: number, meta: Record<string, unknown>): Promise<void> {
  const text = Object.fromEntries(
    Object.entries(meta).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : v]),
  );
  const b64 = Buffer.from(JSON.stringify(text)).toString('base64');
  await wp.php(
    `foreach (json_decode(base64_decode('${b64}'), true) as $k => $v) { update_post_meta(${id}, $k, wp_slash($v)); }`,
  );
}

async function newPost(fields: Record<string, unknown> = {}, auth = basic()): Promise<number> {
  const res = await api('POST', 'wp/v2/posts', { title: 'Hero', status: 'draft', ...fields }, auth);
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.id;
}

let users = 0;
const userWithAppPassword = (role: string) => createUser(wp, `hero-${role}-${++users}`, role);

/** Sets keys of the plugin's option; `raw` skips its sanitiser (for `crop_aspects`, which this plugin
 * version reads but whose form field and sanitising come with the crop settings). */
const setSettings = (values: Record<string, unknown>, raw = false) =>
  wp.php(
    `${raw ? "remove_all_filters('sanitize_option_mmlq_edge_settings');" : ''} $s = get_option('mmlq_edge_settings'); foreach (json_decode('${JSON.stringify(values)}', true) as $k => $v) { $s[$k] = $v; } update_option('mmlq_edge_settings', $s);`,
  );

/** 64-bit hex hash with the first `bits` bits of `base` flipped. */
function flip(base: string, bits: number): string {
  let n = BigInt(`0x${base}`);
  for (let i = 0; i < bits; i++) n ^= 1n << BigInt(63 - i);
  return n.toString(16).padStart(16, '0');
}

const PHASH = '9c3e61f0a55a0ff1';
const ROCKET_CROP = { aspect: '16:9', left: 0, top: 60, width: 1024, height: 576, score: 6.9 };

beforeAll(async () => {
  rocket = await readFile(join(ROOT, 'test/fixtures/samples/rocket.jpg'));
  storm = await readFile(join(ROOT, 'test/fixtures/samples/storm.jpg'));
  rocketSmall = await sharp(rocket).resize(512).jpeg({ quality: 90 }).toBuffer();
  wp = await startWordPress({
    plugins: [PLUGIN],
    options: {
      // Deliveries go nowhere (nothing listens on port 9; cron is never run here): images stay queued.
      mmlq_edge_settings: { endpoint: 'http://127.0.0.1:9/v1/wordpress/webhook', secret: 'b'.repeat(64) },
    },
  });
}, 120_000);

afterAll(async () => {
  await wp?.stop();
});

// Each case uploads several images; under load that takes minutes.
describe('GET mmlq-edge/v1/posts/<id>/hero', { timeout: 300_000 }, () => {
  it('lists the candidates best first with tier and weakest attributes, collapses near-duplicates, marks the unscored', async () => {
    const post = await newPost();
    const best = await upload('rocket.jpg', rocket, post);
    const resized = await upload('rocket-small.jpg', rocketSmall, post);
    const far = await upload('rocket-far.jpg', rocket, post);
    const dark = await upload('storm.jpg', storm, post);
    const queued = await upload('queued.jpg', storm, post);
    const broken = await upload('broken.jpg', storm, post);
    await scoreMeta(best, {
      mmlq_score: 6.864,
      mmlq_tier: 'top',
      mmlq_percentile: 94.23,
      mmlq_attributes: { sharpness: 0.95, noise: 0.97 },
      mmlq_phash: PHASH,
      mmlq_crops: [ROCKET_CROP, { aspect: '1:1', left: 200, top: 0, width: 683, height: 683, score: 6.1 }],
    });
    // The same photo at another size: 10 bits away (the limit), scored a little lower.
    await scoreMeta(resized, { mmlq_score: 6.5, mmlq_tier: 'good', mmlq_phash: flip(PHASH, 10) });
    // 11 bits away: another photo as far as the panel knows.
    await scoreMeta(far, { mmlq_score: 6.2, mmlq_tier: 'good', mmlq_phash: flip(PHASH, 11) });
    await scoreMeta(dark, {
      mmlq_score: 3.12,
      mmlq_tier: 'low',
      mmlq_percentile: 14.5,
      mmlq_attributes: { exposure: 0.53, sharpness: 0.8, noise: 0.95, colour: 0.89, contrast: 0.7 },
    });
    await scoreMeta(broken, { mmlq_error: 'IMAGE_CORRUPT: premature end of JPEG image' });
    // Titles go out as text (the panel renders text): no entities from the_title's texturizing.
    expect((await api('POST', `wp/v2/media/${best}`, { title: "Rocket's launch & pad" })).status).toBe(200);

    const res = await api('GET', `mmlq-edge/v1/posts/${post}/hero`);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.post).toBe(post);
    expect(res.json.aspect).toBe('16:9');
    expect(res.json.featured).toBe(0);
    expect(res.json.on_publish).toBe(false);
    const list = res.json.candidates as any[];
    expect(list.map((c) => c.id)).toEqual([best, far, dark, queued, broken]);
    expect(list[0]).toMatchObject({
      title: "Rocket's launch & pad",
      scored: true,
      score: 6.86,
      tier: 'top',
      tier_name: 'Top',
      percentile: 94.2,
      weakest: [],
      width: 1024,
      height: 683,
      featured: false,
      crop: { aspect: '16:9', left: 0, top: 60, width: 1024, height: 576, score: 6.9 },
      similar: [{ id: resized, score: 6.5, width: 512, height: 342, featured: false }],
    });
    expect(list[0].thumbnail).toMatch(/rocket-300x200\.jpg$/);
    expect(list[1]).toMatchObject({ score: 6.2, similar: [], crop: null });
    // Lowest first, below 0.9, at most three.
    expect(list[2].weakest).toEqual([
      { label: 'exposure', value: 0.53 },
      { label: 'contrast', value: 0.7 },
      { label: 'sharpness', value: 0.8 },
    ]);
    expect(list[3]).toMatchObject({
      scored: false,
      score: null,
      tier: null,
      status: { state: 'queued', message: 'Not scored yet: queued for scoring.' },
    });
    expect(list[4].status).toEqual({
      state: 'error',
      message: 'Not scored: IMAGE_CORRUPT: premature end of JPEG image',
    });

    // The site's featured-image aspect is the first of the crop_aspects setting.
    await setSettings({ crop_aspects: ['1:1', '16:9'] }, true);
    try {
      const square = await api('GET', `mmlq-edge/v1/posts/${post}/hero`);
      expect(square.json.aspect).toBe('1:1');
      expect(square.json.candidates[0].crop).toEqual({
        aspect: '1:1',
        left: 200,
        top: 0,
        width: 683,
        height: 683,
        score: 6.1,
      });
      await setSettings({ crop_aspects: '4:5,16:9' }, true);
      const portrait = await api('GET', `mmlq-edge/v1/posts/${post}/hero`);
      expect(portrait.json.aspect).toBe('4:5');
      expect(portrait.json.candidates[0].crop).toBeNull();
    } finally {
      await setSettings({ crop_aspects: [] }, true);
    }
  });

  it('without perceptual hashes or crops (older scores) nothing is collapsed and no crop is offered', async () => {
    const post = await newPost();
    const a = await upload('a.jpg', rocket, post);
    const b = await upload('b.jpg', rocketSmall, post);
    await scoreMeta(a, { mmlq_score: 6.8, mmlq_tier: 'top' });
    await scoreMeta(b, { mmlq_score: 6.4, mmlq_tier: 'good', mmlq_phash: PHASH });
    const list = (await api('GET', `mmlq-edge/v1/posts/${post}/hero`)).json.candidates as any[];
    expect(list.map((c) => [c.id, c.similar.length, c.crop, c.phash])).toEqual([
      [a, 0, null, null],
      [b, 0, null, PHASH],
    ]);
    // Malformed stored values are ignored, not trusted: a bad hash, a box outside the image.
    await scoreMeta(a, {
      mmlq_phash: 'XYZ',
      mmlq_crops: [{ aspect: '16:9', left: 100, top: 200, width: 1024, height: 576 }],
    });
    const again = (await api('GET', `mmlq-edge/v1/posts/${post}/hero`)).json.candidates as any[];
    expect([again[0].phash, again[0].crop]).toEqual([null, null]);
  });

  it("takes the editor's unsaved featured image and content images; lists only images the user may read", async () => {
    const editor = await userWithAppPassword('editor');
    const contributor = await userWithAppPassword('contributor');
    const author = await userWithAppPassword('author');
    const post = await newPost({}, author.auth);
    const own = await upload('own.jpg', storm, post, author.auth);
    const unattached = await upload('library.jpg', rocket);
    // An image attached to someone else's draft: the author may not read it.
    const privateDraft = await newPost({}, editor.auth);
    const hidden = await upload('hidden.jpg', rocket, privateDraft, editor.auth);
    await scoreMeta(hidden, { mmlq_score: 9 });
    await scoreMeta(own, { mmlq_score: 5 });
    await scoreMeta(unattached, { mmlq_score: 6 });

    const path = `mmlq-edge/v1/posts/${post}/hero?featured=${unattached}&include[]=${hidden}&include[]=${post}&include[]=999999`;
    const asAuthor = await api('GET', path, undefined, author.auth);
    expect(asAuthor.status, JSON.stringify(asAuthor.json)).toBe(200);
    expect(asAuthor.json.featured).toBe(unattached);
    expect((asAuthor.json.candidates as any[]).map((c) => [c.id, c.featured])).toEqual([
      [unattached, true],
      [own, false],
    ]);
    const asAdmin = await api('GET', path);
    expect((asAdmin.json.candidates as any[]).map((c) => c.id)).toEqual([hidden, unattached, own]);

    expect((await api('GET', `mmlq-edge/v1/posts/${post}/hero`, undefined, null)).status).toBe(401);
    expect((await api('GET', `mmlq-edge/v1/posts/${post}/hero`, undefined, contributor.auth)).status).toBe(
      403,
    );
    const bad = await api('GET', `mmlq-edge/v1/posts/${post}/hero?include[]=abc`);
    expect([bad.status, bad.json.code]).toEqual([400, 'rest_invalid_param']);
    expect((await api('GET', 'mmlq-edge/v1/posts/999999/hero')).status).toBe(403);
    expect((await api('GET', `mmlq-edge/v1/posts/${own}/hero`)).json.code).toBe('rest_post_invalid_id');
  });
});

describe('POST mmlq-edge/v1/posts/<id>/hero/crop', { timeout: 300_000 }, () => {
  it('makes an edited copy cut to the stored box, attached to the post with its sub-sizes; once per box', async () => {
    const post = await newPost();
    const source = await upload('launch.jpg', rocket, post);
    await scoreMeta(source, { mmlq_score: 6.9, mmlq_crops: [ROCKET_CROP] });
    await wp.php(`update_post_meta(${source}, '_wp_attachment_image_alt', 'A rocket at dusk');`);

    const res = await api('POST', `mmlq-edge/v1/posts/${post}/hero/crop`, { attachment: source });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    const copy = res.json.id as number;
    expect(res.json).toMatchObject({
      created: true,
      source,
      box: ROCKET_CROP,
      width: 1024,
      height: 576,
    });
    expect(res.json.url).toMatch(/\/launch-hero-16-9\.jpg$/);

    const media = (await api('GET', `wp/v2/media/${copy}?context=edit`)).json;
    expect(media.post).toBe(post);
    expect(media.alt_text).toBe('A rocket at dusk');
    expect(media.title.raw).toBe('launch (16:9 crop)');
    expect([media.media_details.width, media.media_details.height]).toEqual([1024, 576]);
    expect(Object.keys(media.media_details.sizes)).toEqual(
      expect.arrayContaining(['thumbnail', 'medium', 'medium_large', 'full']),
    );
    // The copy's pixels are the box of the original (JPEG re-encoding aside).
    const got = await sharp(Buffer.from(await (await fetch(res.json.url)).arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true });
    const want = await sharp(rocket)
      .extract({ left: 0, top: 60, width: 1024, height: 576 })
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([got.info.width, got.info.height]).toEqual([want.info.width, want.info.height]);
    let diff = 0;
    for (let i = 0; i < got.data.length; i++) diff += Math.abs(got.data[i]! - want.data[i]!);
    expect(diff / got.data.length).toBeLessThan(6);
    // The copy is queued for scoring like any upload, and marked as a crop of its source.
    expect(
      (
        await wp.php(
          `echo get_post_meta(${copy}, '_mmlq_edge_status', true), '|', get_post_meta(${copy}, '_mmlq_edge_crop_of', true);`,
        )
      ).trim(),
    ).toBe(`pending|${source}`);
    const listed = (await api('GET', `mmlq-edge/v1/posts/${post}/hero`)).json.candidates as any[];
    expect(listed.find((c) => c.id === copy).crop_of).toBe(source);

    // Again: the same copy, not a second one.
    const again = await api('POST', `mmlq-edge/v1/posts/${post}/hero/crop`, {
      attachment: source,
      aspect: '16:9',
    });
    expect([again.status, again.json.id, again.json.created]).toEqual([200, copy, false]);
    expect(
      (
        await wp.php(`echo count(get_children(['post_parent' => ${post}, 'post_type' => 'attachment']));`)
      ).trim(),
    ).toBe('2');
  });

  it('refuses what it cannot crop, bad input, and users who may not upload', async () => {
    const post = await newPost();
    const source = await upload('plain.jpg', rocket, post);
    const crop = (body: unknown, auth = basic()) =>
      api('POST', `mmlq-edge/v1/posts/${post}/hero/crop`, body, auth);

    const none = await crop({ attachment: source });
    expect([none.status, none.json.code]).toEqual([409, 'mmlq_edge_no_crop']);
    expect(none.json.message).toBe('The image has no stored 16:9 crop that fits it (score it again).');
    await scoreMeta(source, { mmlq_crops: [ROCKET_CROP] });
    expect((await crop({ attachment: source, aspect: '1:1' })).json.code).toBe('mmlq_edge_no_crop');
    const badAspect = await crop({ attachment: source, aspect: '16/9' });
    expect([badAspect.status, badAspect.json.code]).toEqual([400, 'rest_invalid_param']);
    const badId = await crop({ attachment: 'x' });
    expect([badId.status, badId.json.code]).toEqual([400, 'rest_invalid_param']);
    const missing = await crop({});
    expect([missing.status, missing.json.code]).toEqual([400, 'rest_missing_callback_param']);
    expect((await crop({ attachment: post })).json.code).toBe('mmlq_edge_not_an_image');
    expect((await crop({ attachment: source }, '')).status).toBe(401);
    // A contributor may edit their own draft but not upload files: no crop (the copy is a new file).
    const contributor = await userWithAppPassword('contributor');
    const theirs = await newPost({}, contributor.auth);
    const asContributor = await api(
      'POST',
      `mmlq-edge/v1/posts/${theirs}/hero/crop`,
      { attachment: source },
      contributor.auth,
    );
    expect(asContributor.status).toBe(403);
    expect((await api('GET', `mmlq-edge/v1/posts/${theirs}/hero`, undefined, contributor.auth)).status).toBe(
      200,
    );
  });
});

describe('featured image on publish', { timeout: 300_000 }, () => {
  const featured = async (post: number) =>
    (await api('GET', `wp/v2/posts/${post}?context=edit`)).json.featured_media;

  it('is off by default; when on, a post first published without one gets its best-scored image', async () => {
    const scoredPost = async () => {
      const post = await newPost();
      const low = await upload('low.jpg', storm, post);
      const high = await upload('high.jpg', rocket, post);
      await upload('unscored.jpg', rocket, post);
      await scoreMeta(low, { mmlq_score: 3 });
      await scoreMeta(high, { mmlq_score: 6.5 });
      return { post, high, low };
    };
    const off = await scoredPost();
    await api('POST', `wp/v2/posts/${off.post}`, { status: 'publish' });
    expect(await featured(off.post)).toBe(0);

    await setSettings({ hero_on_publish: true });
    try {
      const on = await scoredPost();
      const published = await api('POST', `wp/v2/posts/${on.post}`, { status: 'publish' });
      // The REST answer (what the editor shows after publishing) already has it.
      expect(published.json.featured_media).toBe(on.high);
      expect(await featured(on.post)).toBe(on.high);

      // A featured image chosen in the same request is kept.
      const chosen = await scoredPost();
      await api('POST', `wp/v2/posts/${chosen.post}`, { status: 'publish', featured_media: chosen.low });
      expect(await featured(chosen.post)).toBe(chosen.low);

      // Only on the first publish: removing it later from a published post is respected.
      await api('POST', `wp/v2/posts/${on.post}`, { featured_media: 0 });
      await api('POST', `wp/v2/posts/${on.post}`, { title: 'Edited' });
      expect(await featured(on.post)).toBe(0);

      // No scored image: nothing set.
      const bare = await newPost();
      await upload('bare.jpg', rocket, bare);
      await api('POST', `wp/v2/posts/${bare}`, { status: 'publish' });
      expect(await featured(bare)).toBe(0);

      // A scheduled post published by WP-cron (wp_publish_post(), no user): a page, which supports
      // featured images too.
      const scheduled = JSON.parse(
        await wp.php(
          `$id = wp_insert_post(['post_title' => 'later', 'post_status' => 'draft', 'post_type' => 'page', 'post_author' => 1]);
           $img = wp_insert_attachment(['post_mime_type' => 'image/jpeg', 'post_title' => 'x', 'post_status' => 'inherit'], get_attached_file(${on.high}), $id);
           update_post_meta($img, 'mmlq_score', 5);
           wp_set_current_user(0);
           wp_publish_post($id);
           echo json_encode(['image' => $img, 'featured' => (int) get_post_thumbnail_id($id)]);`,
        ),
      );
      expect(scheduled.featured).toBe(scheduled.image);
    } finally {
      await setSettings({ hero_on_publish: false });
    }
  });
});
