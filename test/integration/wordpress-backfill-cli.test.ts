/**
 * `mmlq-edge wordpress backfill` against a real WordPress (tools/local/wordpress.ts) with the plugin,
 * run in-process through runCli as a user of the plugin's "MMLQ Edge scorer" role with an application
 * password: the meta and tier term of every image, the same mmlq_key the plugin's webhook would
 * produce, idempotent reruns, interruption and resumption (each image scored exactly once), Retry-After
 * on 429, and the refusals (no capability, wrong password). Uses the tiny model (test/helpers).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Io, runCli } from '#core/cli/main.ts';
import { Scorer } from '#core/model/scorer.ts';
import { attachmentKey, attachmentTexts, parseWebhookPayload } from '#core/wp-webhook/payload.ts';
import { startWordPress, type WordPress } from '#tools/local/wordpress.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { createUser, type Rest, restClient, uploadMedia } from '../helpers/wordpress.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SAMPLES = join(ROOT, 'test/fixtures/samples');
const MODEL = { name: 'tiny', version: '1.0.0' };

let dir: string;
let wp: WordPress;
let scorerPasswordFile: string;
let scorerPassword: string;
let scorer: Scorer;
/** Uploaded images: id → the bytes WordPress stores. */
const uploaded = new Map<number, Buffer>();

let rest: Rest;

async function upload(name: string, bytes: Buffer, fields: Record<string, string> = {}) {
  const { id } = await uploadMedia(rest, name, bytes, { fields });
  uploaded.set(id, bytes);
  return id;
}

const media = async (id: number) => (await rest('GET', `wp/v2/media/${id}?context=edit`)).json;
const tierTerms = async (id: number) =>
  ((await rest('GET', `wp/v2/mmlq_tier?post=${id}`)).json as { slug: string }[]).map((t) => t.slug);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  summary: any;
}

/** Runs the CLI in-process; `stopWhen` (a stderr line) aborts as the first Ctrl-C would. */

/** `wordpress backfill` against the test site as the scorer user, with the tiny model. */
const backfillCommand = () => [
  'wordpress',
  'backfill',
  '--site',
  `${wp.url}/`,
  '--user',
  'backfill-scorer',
  '--app-password-file',
  scorerPasswordFile,
  '--allow-insecure-local',
  '--model',
  'tiny',
  '--models-dir',
  join(dir, 'models'),
];

async function backfill(args: string[], stopWhen?: RegExp): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const controller = new AbortController();
  const io: Io = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
      if (stopWhen?.test(t)) controller.abort();
    },
    interactive: false,
    cwd: ROOT,
    env: { XDG_CACHE_HOME: join(dir, 'cache') },
    interrupts: () => ({ signal: controller.signal, dispose: () => {} }),
  };
  const code = await runCli([...backfillCommand(), '--rate', '50', '--json', ...args], io);
  let summary: any;
  try {
    summary = JSON.parse(stdout);
  } catch {
    summary = undefined;
  }
  return { code, stdout, stderr, summary };
}

/** What the plugin's webhook would send for an attachment, and so the key wp-webhook would store. */
async function webhookKey(id: number): Promise<string> {
  const body = await wp.php(`echo wp_json_encode(mmlq_edge_payload('attachment.upload', ${id}));`);
  const payload = parseWebhookPayload(Buffer.from(body.trim()));
  if (payload.event === 'ping') throw new Error('expected an attachment payload');
  return attachmentKey(payload.site, payload.attachment, MODEL);
}

async function expectScored(id: number) {
  const m = await media(id);
  const bytes = uploaded.get(id)!;
  expect(m.meta.mmlq_model, `attachment ${id}`).toBe('tiny@1.0.0');
  expect(m.meta.mmlq_error).toBe('');
  expect(m.meta.mmlq_key).toBe(await webhookKey(id));
  expect(m.meta.mmlq_key).toContain(`#${id}#${createHash('sha256').update(bytes).digest('hex')}#`);
  // The score the local model gives these bytes and this text, as stored.
  const texts = attachmentTexts({
    caption: m.caption.raw,
    alt: m.alt_text,
    title: m.title.raw,
    description: m.description.raw,
    comments: [],
  });
  const expected = await scorer.scoreOne({
    id: String(id),
    image: { bytes },
    text: texts.length ? texts : undefined,
  });
  expect(m.meta.mmlq_score).toBeCloseTo(expected.score, 4);
  expect(m.meta.mmlq_std).toBeCloseTo(expected.std, 4);
  expect(m.meta.mmlq_percentile).toBeCloseTo(expected.percentile, 4);
  expect(m.meta.mmlq_tier).toBe(expected.tier);
  expect(JSON.parse(m.meta.mmlq_attributes)).toEqual(expected.attributes);
  expect(Date.parse(m.meta.mmlq_scored_at)).toBeGreaterThan(0);
  expect(await tierTerms(id)).toEqual([expected.tier]);
  return m.meta as Record<string, any>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-wp-backfill-'));
  await writeTinyModel(join(dir, 'models'), { name: 'tiny', text: true });
  scorer = await Scorer.create({ model: 'tiny', modelsDir: join(dir, 'models'), log: () => {} });
  wp = await startWordPress({
    plugins: [join(ROOT, 'plugins/wordpress/mmlq-edge')],
    // No webhook: every score in this file comes from the CLI. The model basis keeps the tier term the
    // one the CLI writes (on the default library basis the plugin replaces it with the library tier:
    // wordpress-library.test.ts).
    options: {
      mmlq_edge_settings: { endpoint: '', secret: '', enabled: false },
      mmlq_edge_tiers: { basis: 'model' },
    },
  });
  rest = restClient(wp);
  scorerPassword = (await createUser(wp, 'backfill-scorer', 'mmlq_edge_scorer')).appPassword;
  scorerPasswordFile = join(dir, 'scorer.password');
  await writeFile(scorerPasswordFile, `  ${scorerPassword}\n`, { mode: 0o600 });
}, 240_000);

afterAll(async () => {
  await wp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mmlq-edge wordpress backfill against a real WordPress', () => {
  const first: number[] = [];
  const firstMeta: Record<number, Record<string, any>> = {};

  it('scores every image, page by page, and writes the meta, key and tier term wp-webhook writes', {
    timeout: 240_000,
  }, async () => {
    const files = ['rocket.jpg', 'storm.jpg', 'ladybird-blur.jpg', 'yellow-flower.jpg'];
    for (const [i, f] of files.entries()) {
      const bytes = await readFile(join(SAMPLES, f));
      first.push(
        await upload(f, bytes, i % 2 ? { caption: 'Crisp and lovely light', alt_text: 'sharp photo' } : {}),
      );
    }
    const broken = await upload(
      'broken.jpg',
      (await readFile(join(SAMPLES, 'rocket.jpg'))).subarray(0, 4000),
    );
    const run = await backfill(['--page-size', '2']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary).toMatchObject({
      scored: 4,
      rejected: 1,
      skipped: 0,
      failed: [],
      total: 5,
      interrupted: false,
    });
    for (const id of first) firstMeta[id] = await expectScored(id);
    // A bad image gets its error written, as wp-webhook writes it, and no tier.
    const b = await media(broken);
    expect(b.meta.mmlq_error).toMatch(/^IMAGE_CORRUPT: /);
    expect(b.meta.mmlq_key).toBe(await webhookKey(broken));
    expect(await tierTerms(broken)).toEqual([]);
    // A finished run leaves no state behind; the password appears nowhere.
    expect(existsSync(run.summary.state)).toBe(false);
    expect(run.stdout + run.stderr).not.toContain(scorerPassword);
  });

  it('a rerun scores nothing: --unscored skips stored results, --all skips matching keys', {
    timeout: 120_000,
  }, async () => {
    const unscored = await backfill([]);
    expect(unscored.code, unscored.stderr).toBe(0);
    expect(unscored.summary).toMatchObject({ scored: 0, rejected: 0, skipped: 5, failed: [] });
    const all = await backfill(['--all']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.summary).toMatchObject({ scored: 0, rejected: 0, skipped: 5, failed: [] });
    for (const id of first) expect((await media(id)).meta.mmlq_scored_at).toBe(firstMeta[id]!.mmlq_scored_at);
    // A new caption makes a new key: --all rescores that image only.
    await rest('POST', `wp/v2/media/${first[0]}`, { caption: 'blurry and dark' });
    const again = await backfill(['--all']);
    expect(again.summary).toMatchObject({ scored: 1, skipped: 4 });
    firstMeta[first[0]!] = await expectScored(first[0]!);
    expect(firstMeta[first[0]!]!.mmlq_scored_at).not.toBe(firstMeta[first[1]!]!.mmlq_scored_at);
  });

  it('stopped by --limit and by Ctrl-C, then resumed: every image is scored exactly once', {
    timeout: 300_000,
  }, async () => {
    const files = [
      'rocket-noise.jpg',
      'storm-dark.jpg',
      'ladybird.jpg',
      'yellow-flower-jpeg.jpg',
      'rocket.jpg',
      'storm.jpg',
    ];
    const added: number[] = [];
    for (const f of files) added.push(await upload(`new-${f}`, await readFile(join(SAMPLES, f))));
    const scoredAt = async () =>
      Object.fromEntries(
        await Promise.all(added.map(async (id) => [id, (await media(id)).meta.mmlq_scored_at])),
      );

    const limited = await backfill(['--limit', '2', '--page-size', '3', '--batch-size', '1']);
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.summary).toMatchObject({ scored: 2, limited: true, failed: [] });
    expect(existsSync(limited.summary.state)).toBe(true);
    const state = JSON.parse(await readFile(limited.summary.state, 'utf8'));
    expect(state.lastId).toBe(added[1]);
    const afterLimit = await scoredAt();
    expect(added.filter((id) => afterLimit[id] !== '')).toEqual(added.slice(0, 2));

    // Ctrl-C as the first image of this run is written: it stops after that image.
    const stopped = await backfill(['--page-size', '3', '--batch-size', '1'], /#\d+ {2}scored/);
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.summary).toMatchObject({ scored: 1, interrupted: true, resumed: true, failed: [] });
    const afterStop = await scoredAt();
    expect(added.filter((id) => afterStop[id] !== '')).toEqual(added.slice(0, 3));

    const resumed = await backfill(['--page-size', '3']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.summary).toMatchObject({
      scored: 3,
      rejected: 0,
      failed: [],
      resumed: true,
      interrupted: false,
    });
    // Only the three not yet scored were looked at again: the earlier ones kept their first write.
    expect(resumed.summary.skipped).toBe(0);
    const end = await scoredAt();
    for (const id of added.slice(0, 3)) expect(end[id]).toBe(afterStop[id]);
    for (const id of added) await expectScored(id);
    expect(existsSync(resumed.summary.state)).toBe(false);
  });

  it('as a real process, a Ctrl-C (SIGINT) stops it after the current image with exit code 130; a rerun finishes', {
    timeout: 300_000,
  }, async () => {
    const added: number[] = [];
    for (const f of ['storm.jpg', 'ladybird.jpg', 'rocket.jpg', 'yellow-flower.jpg']) {
      added.push(await upload(`sigint-${f}`, await readFile(join(SAMPLES, f))));
    }
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'layers/core/src/cli/bin.ts'),
        ...backfillCommand(),
        '--batch-size',
        '1',
        '--json',
      ],
      {
        cwd: ROOT,
        env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/#\d+ {2}scored/.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('stopping after the current image');
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ interrupted: true, failed: [] });
    // The signal lands while the next image may already be on its way: that one is finished too.
    expect(summary.scored).toBeGreaterThanOrEqual(1);
    expect(summary.scored).toBeLessThan(added.length);
    const before = await Promise.all(added.map(async (id) => (await media(id)).meta.mmlq_scored_at));
    const rest = await backfill([]);
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.summary).toMatchObject({ scored: added.length - summary.scored, skipped: 0, resumed: true });
    for (const [i, id] of added.entries()) {
      const m = await expectScored(id);
      if (i < summary.scored) expect(m.mmlq_scored_at).toBe(before[i]);
    }
  });

  it('waits as a 429 answer with Retry-After asks, then goes on', { timeout: 120_000 }, async () => {
    const mu = join(wp.docroot, 'wp-content/mu-plugins/mmlq-edge-test-busy.php');
    await writeFile(
      mu,
      `<?php
add_filter('rest_pre_dispatch', function ($result, $server, $request) {
  if ('/wp/v2/media' !== $request->get_route() || (int) get_option('mmlq_test_busy') <= 0) { return $result; }
  update_option('mmlq_test_busy', (int) get_option('mmlq_test_busy') - 1);
  return new WP_REST_Response(array('code' => 'busy', 'message' => 'Slow down'), 429, array('Retry-After' => '1'));
}, 10, 3);
`,
    );
    try {
      await wp.php("update_option('mmlq_test_busy', 2);");
      const started = performance.now();
      const run = await backfill(['--retries', '3']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.summary).toMatchObject({ failed: [], scored: 0 });
      expect(run.stderr).toMatch(
        /retry 1\/3 of listing images from 0 in 1\.0 s: WordPress at \S+ answered 429/,
      );
      expect(run.stderr).toMatch(/retry 2\/3 of listing images from 0 in 1\.0 s/);
      expect(performance.now() - started).toBeGreaterThanOrEqual(2000);
      expect(await wp.php("echo (int) get_option('mmlq_test_busy');")).toBe('0');
    } finally {
      await rm(mu, { force: true });
      await wp.php("delete_option('mmlq_test_busy');");
    }
  });

  it('refuses, before scoring anything, a user without the capability and a wrong password', {
    timeout: 120_000,
  }, async () => {
    const authorPassword = (await createUser(wp, 'backfill-author', 'author')).appPassword;
    const authorFile = join(dir, 'author.password');
    await writeFile(authorFile, authorPassword);
    const author = await backfill(['--user', 'backfill-author', '--app-password-file', authorFile]);
    expect(author.code).toBe(2);
    expect(author.stderr).toContain('may not write scores');
    expect(author.stderr).toContain('"MMLQ Edge scorer"');
    expect(author.stderr).toContain('mmlq_edge_write_scores');

    const wrongFile = join(dir, 'wrong.password');
    await writeFile(wrongFile, 'abcd efgh ijkl mnop qrst uvwx');
    const wrong = await backfill(['--app-password-file', wrongFile]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/answered 401: check the application password/);
    expect(wrong.stdout + wrong.stderr).not.toContain('abcd efgh');
  });
});
