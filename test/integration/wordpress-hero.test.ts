/**
 * The hero picker as an editor uses it, in a real browser (Debian's chromium through playwright-core,
 * test/helpers/browser.ts) against a real WordPress with the plugin, scored for real by the local stack
 * (wp-webhook and the scorer under serverless-offline, the default model), as in wordpress-e2e.test.ts.
 *
 * An editor creates a post, uploads images into its image blocks (one is the same photo resized), the
 * images are scored, the "Hero image" panel lists them ranked with the resized copy collapsed under its
 * original, the best becomes the featured image, then its smart crop does; and with the "on publish"
 * setting ticked on the settings page, publishing a post without a featured image sets its best image.
 * The panel's screenshots for docs/WORDPRESS.md are taken here (docs/images/hero-*.png with
 * UPDATE_SCREENSHOTS=1).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '#tools/local/stack.ts';
import type { WordPress } from '#tools/local/wordpress.ts';
import { launchBrowser, logIn, screenshotDir } from '../helpers/browser.ts';
import { eventually } from '../helpers/poll.ts';
import { restClient, startWordPressWithStack } from '../helpers/wordpress.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SAMPLES = join(ROOT, 'test/fixtures/samples');
let SHOTS: string;
const SECRET = randomBytes(32).toString('hex');

let dir: string;
let wp: WordPress;
let stack: Stack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

/** GET of a REST path as the administrator: its JSON (expects 200). */
async function rest(path: string): Promise<any> {
  const res = await restClient(wp)('GET', path);
  expect(res.status, path).toBe(200);
  return res.json;
}

function hamming(a: string, b: string): number {
  let n = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let bits = 0;
  for (; n; n >>= 1n) bits += Number(n & 1n);
  return bits;
}

/** Opens a post in the block editor with the welcome guide off. */
async function openEditor(path: string): Promise<void> {
  await page.goto(`${wp.url}/wp-admin/${path}`);
  await page.waitForFunction(() => Boolean((globalThis as any).wp?.data?.select('core/edit-post')));
  await page.evaluate(() => {
    const data = (globalThis as any).wp.data;
    if (data.select('core/edit-post').isFeatureActive('welcomeGuide'))
      data.dispatch('core/edit-post').toggleFeature('welcomeGuide');
  });
}

/** Adds one image block per file and uploads each file through the block's own upload button. */
async function uploadIntoImageBlocks(files: string[]): Promise<void> {
  const ids: string[] = await page.evaluate((count) => {
    const { blocks, data } = (globalThis as any).wp;
    const added = Array.from({ length: count }, () => blocks.createBlock('core/image'));
    data.dispatch('core/block-editor').insertBlocks(added);
    return added.map((b: { clientId: string }) => b.clientId);
  }, files.length);
  for (const [i, file] of files.entries()) {
    await page.setInputFiles(`#block-${ids[i]} input[type=file]`, file);
    await page.waitForSelector(`#block-${ids[i]} img[src*="/wp-content/uploads/"]`, { timeout: 60_000 });
  }
}

/** The image IDs of the editor's image blocks, in order. */
const blockImageIds = () =>
  page.evaluate(() =>
    (globalThis as any).wp.data
      .select('core/block-editor')
      .getBlocks()
      .filter((b: { name: string }) => b.name === 'core/image')
      .map((b: { attributes: { id: number } }) => b.attributes.id),
  );

async function saveDraft(): Promise<void> {
  await page.click('.editor-post-save-draft');
  await page.waitForFunction(() => {
    const editor = (globalThis as any).wp.data.select('core/editor');
    return !editor.isSavingPost() && !editor.isEditedPostDirty();
  });
}

/** Runs WP-cron (which sends the deliveries) until every image has its score. */
async function scoreAll(ids: number[]): Promise<Record<number, any>> {
  const meta: Record<number, any> = {};
  await eventually(
    `scores for ${ids.join(', ')}`,
    async () => {
      await wp.runCron();
      for (const id of ids) meta[id] = (await rest(`wp/v2/media/${id}?context=edit`)).meta;
      return ids.every((id) => meta[id].mmlq_score > 0) ? true : undefined;
    },
    240_000,
    1000,
  );
  return meta;
}

/** The sidebar's Post tab (selecting a block switches to the Block tab), the panel open. */
async function openHeroPanel(): Promise<void> {
  await page.evaluate(() => {
    const data = (globalThis as any).wp.data;
    data.dispatch('core/block-editor').clearSelectedBlock();
    data.dispatch('core/edit-post').openGeneralSidebar('edit-post/document');
  });
  const toggle = page.locator('.components-panel__body-toggle', { hasText: 'Hero image' });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  await page.waitForSelector('.mmlq-edge-hero__list, .mmlq-edge-hero__empty');
}

/** What the panel lists: [attachment ID, text of the item], top to bottom. */
const panelItems = () =>
  page.$$eval('.mmlq-edge-hero__item', (items) =>
    items.map((li) => [Number(li.getAttribute('data-id')), (li as any).innerText] as const),
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-wp-hero-'));
  ({ wp, stack } = await startWordPressWithStack({ dir, secret: SECRET }));
  browser = await launchBrowser();
  // Tall enough for the whole sidebar: the panel's screenshots are of the element, which must be in view.
  page = await browser.newPage({ viewport: { width: 1400, height: 2000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await logIn(page, wp);
  SHOTS = screenshotDir(dir);
  await mkdir(SHOTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await wp?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the "Hero image" panel in the block editor', () => {
  it("ranks a post's uploads, collapses the resized copy, sets the best as featured and applies its crop", {
    timeout: 600_000,
  }, async () => {
    // The same photo resized to half: the near-duplicate.
    const resized = join(dir, 'rocket-half.jpg');
    await writeFile(
      resized,
      await sharp(join(SAMPLES, 'rocket.jpg')).resize(512).jpeg({ quality: 90 }).toBuffer(),
    );
    const files = [
      join(SAMPLES, 'storm-dark.jpg'),
      join(SAMPLES, 'rocket.jpg'),
      join(SAMPLES, 'ladybird-blur.jpg'),
      resized,
      join(SAMPLES, 'yellow-flower.jpg'),
    ];

    await openEditor('post-new.php');
    await page.fill('.editor-post-title__input', 'Launch day');
    await uploadIntoImageBlocks(files);
    await saveDraft();
    const postId: number = await page.evaluate(() =>
      (globalThis as any).wp.data.select('core/editor').getCurrentPostId(),
    );
    const ids: number[] = await blockImageIds();
    expect(ids).toHaveLength(5);
    const post = await rest(`wp/v2/posts/${postId}?context=edit`);
    for (const id of ids) expect(post.content.raw).toContain(`wp-image-${id}`);
    for (const id of ids) expect((await rest(`wp/v2/media/${id}`)).post).toBe(postId);

    const meta = await scoreAll(ids);
    for (const id of ids) expect(meta[id].mmlq_model).toMatch(/^mmlq-mnv2-synth@/);
    // The scorer stored the near-duplicate key and the smart crop (the crop_aspects default, 16:9) of
    // every image: read what it wrote, and check each box is a 16:9 box inside its image.
    const stored = await wp.php(
      `echo json_encode(array_map(fn ($id) => [get_post_meta($id, 'mmlq_phash', true), get_post_meta($id, 'mmlq_crops', true), wp_get_attachment_metadata($id)['width'], wp_get_attachment_metadata($id)['height']], [${ids.join(',')}]));`,
    );
    const hashes = new Map<number, string>();
    for (const [i, [phash, crops, width, height]] of (
      JSON.parse(stored) as [string, string, number, number][]
    ).entries()) {
      expect(phash).toMatch(/^[0-9a-f]{16}$/);
      hashes.set(ids[i]!, phash);
      const [box] = JSON.parse(crops) as {
        aspect: string;
        left: number;
        top: number;
        width: number;
        height: number;
      }[];
      expect(box!.aspect).toBe('16:9');
      expect(box!.left + box!.width).toBeLessThanOrEqual(width);
      expect(box!.top + box!.height).toBeLessThanOrEqual(height);
      expect(Math.abs(box!.width - (box!.height * 16) / 9)).toBeLessThanOrEqual(3);
    }
    const [storm, rocket, , half] = ids as [number, number, number, number, number];
    expect(hamming(hashes.get(rocket)!, hashes.get(half)!)).toBeLessThanOrEqual(10);
    expect(hamming(hashes.get(rocket)!, hashes.get(storm)!)).toBeGreaterThan(10);

    // Expected: best first; the lower-scored of rocket and its half-size copy listed under the other.
    const byScore = [...ids].sort((a, b) => meta[b].mmlq_score - meta[a].mmlq_score);
    const [lead, hidden] = meta[rocket].mmlq_score >= meta[half].mmlq_score ? [rocket, half] : [half, rocket];
    const expected = byScore.filter((id) => id !== hidden);

    await openHeroPanel();
    await page.click('.mmlq-edge-hero__refresh');
    await page.waitForFunction(
      (n) => (globalThis as any).document.querySelectorAll('.mmlq-edge-hero__item').length === n,
      4,
    );
    const items = await panelItems();
    expect(items.map(([id]) => id)).toEqual(expected);
    const text = new Map(items);
    for (const id of expected) {
      expect(text.get(id)).toContain(meta[id].mmlq_score.toFixed(2));
      expect(text.get(id)).toMatch(/\b(Top|Good|Average|Low)\b/);
    }
    expect(text.get(lead)).toContain('+1 similar');
    // The blurred ladybird's weakest attribute is named (the default model's "why").
    const weakest = Object.entries(JSON.parse(meta[ids[2]!].mmlq_attributes) as Record<string, number>).sort(
      (a, b) => a[1] - b[1],
    )[0]!;
    expect(weakest[1]).toBeLessThan(0.9);
    expect(text.get(ids[2]!)).toContain(`Weakest: ${weakest[0]} ${weakest[1].toFixed(2)}`);
    // The crop preview of the best image is open.
    const best = expected[0]!;
    const first = page.locator(`.mmlq-edge-hero__item[data-id="${best}"]`);
    await first.locator('.mmlq-edge-hero__crop img').waitFor();
    await page.waitForFunction(() =>
      [...(globalThis as any).document.querySelectorAll('.mmlq-edge-hero img')].every((i: any) => i.complete),
    );
    await page.locator('.mmlq-edge-hero').screenshot({ path: join(SHOTS, 'hero-panel.png') });

    // "Set as featured image" on the best, then the post is saved: featured_media is it.
    await first.locator('.mmlq-edge-hero__set').click();
    await first.locator('.mmlq-edge-hero__featured').waitFor();
    await saveDraft();
    expect((await rest(`wp/v2/posts/${postId}?context=edit`)).featured_media).toBe(best);

    // Its smart crop: an edited copy, attached to the post, becomes the featured image.
    const crops = JSON.parse((await wp.php(`echo get_post_meta(${best}, 'mmlq_crops', true);`)).trim()) as {
      aspect: string;
      width: number;
      height: number;
    }[];
    const box = crops.find((c) => c.aspect === '16:9')!;
    await first.locator('.mmlq-edge-hero__apply-crop').click();
    await page.waitForSelector('.mmlq-edge-hero .components-notice.is-success');
    await saveDraft();
    const copyId = (await rest(`wp/v2/posts/${postId}?context=edit`)).featured_media as number;
    expect(copyId).not.toBe(best);
    const copy = await rest(`wp/v2/media/${copyId}?context=edit`);
    expect(copy.post).toBe(postId);
    expect([copy.media_details.width, copy.media_details.height]).toEqual([box.width, box.height]);
    expect(Math.abs(copy.media_details.width / copy.media_details.height - 16 / 9)).toBeLessThan(0.01);
    expect(copy.media_details.sizes.thumbnail).toBeDefined();
    await page.locator(`.mmlq-edge-hero__item[data-id="${copyId}"] .mmlq-edge-hero__featured`).waitFor();
    await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
    await page.locator('.mmlq-edge-hero').screenshot({ path: join(SHOTS, 'hero-panel-cropped.png') });
    await page.screenshot({
      path: join(SHOTS, 'hero-editor.png'),
      clip: { x: 0, y: 0, width: 1400, height: 1250 },
    });
    expect(pageErrors).toEqual([]);
  });

  it('with "on publish" ticked on the settings page, publishing a post without a featured image sets its best', {
    timeout: 400_000,
  }, async () => {
    await page.goto(`${wp.url}/wp-admin/options-general.php?page=mmlq-edge`);
    const box = page.locator('#mmlq-edge-hero-on-publish');
    expect(await box.isChecked()).toBe(false);
    await box.check();
    await Promise.all([page.waitForURL(/settings-updated=true/), page.click('#submit')]);
    expect(await page.locator('#mmlq-edge-hero-on-publish').isChecked()).toBe(true);

    await openEditor('post-new.php');
    await page.fill('.editor-post-title__input', 'Published without choosing');
    await uploadIntoImageBlocks([join(SAMPLES, 'storm-dark.jpg'), join(SAMPLES, 'yellow-flower.jpg')]);
    await saveDraft();
    const postId: number = await page.evaluate(() =>
      (globalThis as any).wp.data.select('core/editor').getCurrentPostId(),
    );
    const ids: number[] = await blockImageIds();
    const meta = await scoreAll(ids);
    const best = [...ids].sort((a, b) => meta[b].mmlq_score - meta[a].mmlq_score)[0];

    await openHeroPanel();
    await page.click('.mmlq-edge-hero__refresh');
    await page.waitForSelector(
      '.mmlq-edge-hero__intro:has-text("best becomes the featured image on publish")',
    );
    await page.click('.editor-post-publish-panel__toggle');
    await page.click('.editor-post-publish-panel .editor-post-publish-button');
    await page.waitForSelector('.post-publish-panel__postpublish', { timeout: 60_000 });
    const saved = await rest(`wp/v2/posts/${postId}?context=edit`);
    expect(saved.status).toBe('publish');
    expect(saved.featured_media).toBe(best);
    // The editor took it from the publish answer.
    expect(
      await page.evaluate(() =>
        (globalThis as any).wp.data.select('core/editor').getEditedPostAttribute('featured_media'),
      ),
    ).toBe(best);
    expect(pageErrors).toEqual([]);
  });
});
