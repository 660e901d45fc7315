/**
 * The WordPress plugin (plugins/wordpress/mmlq-edge) on a real WordPress (tools/local/wordpress.ts:
 * MariaDB + PHP's built-in server, started once for this file), with a local HTTP receiver playing the
 * wp-webhook endpoint. Needs `bash .ci/wordpress-deps.sh` (PHP 8.2, MariaDB, the Debian WordPress core).
 */
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWordPress, type WordPress } from '#tools/local/wordpress.ts';
import { adminSession, createUser, restClient, uploadMedia } from '../helpers/wordpress.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PLUGIN = join(ROOT, 'plugins/wordpress/mmlq-edge');
const ROCKET = join(ROOT, 'test/fixtures/samples/rocket.jpg');
const STORM = join(ROOT, 'test/fixtures/samples/storm.jpg');
const SECRET = 'a3f1c0de'.repeat(8);
const HOOK_PATH = '/v1/wordpress/webhook';

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
}

let wp: WordPress;
let receiver: Server;
let endpoint: string;
let rocket: Buffer;
let storm: Buffer;
const deliveries: Delivery[] = [];
let reply: { status: number; body: unknown; headers?: Record<string, string>; delayMs?: number } = {
  status: 200,
  body: { status: 'scored' },
};

/** A REST request as the administrator, or with `auth` false as `headers` alone say (anonymous unless
 * they carry an authorization). */
const api = (
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  auth = true,
) => restClient(wp, auth ? {} : { auth: null })(method, path, body, headers);

/** Uploads a JPEG as the administrator, `query` in the upload request itself; the new attachment. */
const upload = (name: string, bytes: Buffer, query: Record<string, string> = {}) =>
  uploadMedia(restClient(wp), name, bytes, { query });

/** The private delivery state, read in PHP. */
async function state(
  id: number,
): Promise<{ status: string; attempts: number; error: string; next: number | null }> {
  const out = await wp.php(`
    $n = wp_next_scheduled('mmlq_edge_send', [${id}]);
    echo json_encode([
      'status' => get_post_meta(${id}, '_mmlq_edge_status', true),
      'attempts' => (int) get_post_meta(${id}, '_mmlq_edge_attempts', true),
      'error' => get_post_meta(${id}, '_mmlq_edge_last_error', true),
      'next' => $n === false ? null : $n - time(),
    ]);`);
  return JSON.parse(out);
}

/** Moves an attachment's backoff event to now (instead of waiting minutes). */
const makeDue = (id: number) =>
  wp.php(`
    $n = wp_next_scheduled('mmlq_edge_send', [${id}]);
    if ($n === false) { fwrite(STDERR, 'no event'); exit(1); }
    wp_unschedule_event($n, 'mmlq_edge_send', [${id}]);
    wp_schedule_single_event(time(), 'mmlq_edge_send', [${id}]);
    // as if the backoff had passed: the next try is now
    update_post_meta(${id}, '_mmlq_edge_next_try', time());`);

/** Lets time pass for WP-cron: every event of the plugin becomes due now. */
const advanceCron = () =>
  wp.php(`
    foreach (_get_cron_array() ?: [] as $ts => $hooks) {
      foreach ($hooks as $hook => $events) {
        if (!str_starts_with($hook, 'mmlq_edge_') || $ts <= time()) continue;
        foreach ($events as $e) {
          wp_unschedule_event($ts, $hook, $e['args']);
          if ($e['schedule']) wp_schedule_event(time(), $e['schedule'], $hook, $e['args']);
          else wp_schedule_single_event(time(), $hook, $e['args']);
        }
      }
    }`);

/** A new user of the role with an application password: the Basic authorization header. */
const userWithAppPassword = async (role: string) => (await createUser(wp, `test-${role}`, role)).auth;

const webhookDeliveries = (attachment?: number) =>
  deliveries.filter(
    (d) => d.path === HOOK_PATH && (attachment === undefined || d.body?.attachment?.id === attachment),
  );

/** A logged-in wp-admin session (cookies), for the media list, the settings page and the Retry link. */
const session = () => adminSession(wp, { referer: '/wp-admin/options-general.php?page=mmlq-edge' });

/** The hidden inputs of the form that posts `action` (nonce and friends). */
function formFields(html: string, action: string): Record<string, string> {
  const forms = html.split('<form').slice(1);
  const form = forms.find((f) => f.includes(`value="${action}"`) || f.includes(`value='${action}'`));
  expect(form, `form for ${action}`).toBeDefined();
  const fields: Record<string, string> = {};
  for (const m of form!.matchAll(
    /<input type=["']hidden["'][^>]*?name=["']([^"']+)["'][^>]*?value=["']([^"']*)["']/g,
  ))
    fields[m[1]!] = m[2]!.replace(/&amp;|&#038;/g, '&');
  return fields;
}

beforeAll(async () => {
  [rocket, storm] = await Promise.all([readFile(ROCKET), readFile(STORM)]);
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      deliveries.push({ path: req.url ?? '', headers: req.headers, raw, body });
      const { status, headers, body: answer, delayMs } = reply;
      setTimeout(
        () =>
          res
            .writeHead(status, { 'content-type': 'application/json', ...headers })
            .end(JSON.stringify(answer)),
        delayMs ?? 0,
      );
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}${HOOK_PATH}`;
  wp = await startWordPress({
    plugins: [PLUGIN],
    options: {
      mmlq_edge_settings: {
        endpoint,
        secret: SECRET,
        enabled: true,
        max_attempts: 3,
        timeout: 5,
        include_comments: true,
      },
      // These tests play the function's writes and check that its tier lands as the term: the model
      // basis. The default library basis (tiers relative to this site) is wordpress-library.test.ts's.
      mmlq_edge_tiers: { basis: 'model' },
    },
    log: (line) => console.log(line),
  });
});

afterAll(async () => {
  await wp?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

describe('local WordPress harness', () => {
  it('serves REST as JSON and takes an upload authenticated with the application password', async () => {
    const index = await api('GET', '');
    expect(index.status).toBe(200);
    expect(index.type).toContain('application/json');

    const up = await upload('x.jpg', rocket);
    expect(up.mime_type).toBe('image/jpeg');
    const back = await api('GET', `wp/v2/media/${up.id}`);
    expect(back.status).toBe(200);
    expect(back.json.id).toBe(up.id);
    const file = await fetch(back.json.source_url as string);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(rocket)).toBe(true);

    expect((await wp.php(`echo get_post_mime_type(${up.id});`)).trim()).toBe('image/jpeg');
    expect(await wp.php(`echo implode(',', get_option('active_plugins'));`)).toContain(
      'mmlq-edge/mmlq-edge.php',
    );
    // Queued, not sent in the upload request.
    expect(webhookDeliveries()).toHaveLength(0);
    expect((await state(up.id)).status).toBe('pending');
  });
});

describe('MMLQ Edge plugin', () => {
  let scoredId: number;
  let otherId: number;

  it('(a) sends one signed delivery per upload from cron, with caption, alt and approved comments', async () => {
    // Whatever the harness test queued goes out first.
    await wp.runCron();
    deliveries.length = 0;

    const up = await upload('rocket-launch.jpg', rocket, {
      caption: 'Lift-off at dawn',
      alt_text: 'A rocket launching',
      title: 'Launch',
      description: 'Over the sea',
    });
    scoredId = up.id;
    await wp.php(`
      wp_insert_comment(['comment_post_ID' => ${up.id}, 'comment_content' => 'What a shot', 'comment_approved' => 1]);
      wp_insert_comment(['comment_post_ID' => ${up.id}, 'comment_content' => 'spam spam', 'comment_approved' => 0]);`);
    expect(webhookDeliveries()).toHaveLength(0);

    const before = Math.floor(Date.now() / 1000);
    await wp.runCron();
    const sent = webhookDeliveries();
    expect(sent).toHaveLength(1);
    const d = sent[0]!;
    expect(d.headers['content-type']).toContain('application/json');
    expect(d.headers['x-mmlq-delivery']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const ts = d.headers['x-mmlq-timestamp'] as string;
    expect(Number(ts)).toBeGreaterThanOrEqual(before - 1);
    expect(Number(ts)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
    const id = d.headers['x-mmlq-delivery'];
    const expected = createHmac('sha256', SECRET).update(`${ts}.${id}.${d.raw}`).digest('hex');
    expect(d.headers['x-mmlq-signature']).toBe(`v2=${expected}`);
    expect(d.raw).not.toContain('\\/'); // JSON_UNESCAPED_SLASHES

    expect(d.body).toMatchObject({
      event: 'attachment.upload',
      site: `${wp.url}/`,
      restUrl: `${wp.url}/wp-json/`,
      attachment: {
        id: up.id,
        url: up.source_url,
        mime: 'image/jpeg',
        sha256: createHash('sha256').update(rocket).digest('hex'),
        width: 1024,
        height: 683,
        title: 'Launch',
        caption: 'Lift-off at dawn',
        alt: 'A rocket launching',
        description: 'Over the sea',
        comments: ['What a shot'],
      },
    });
    expect(Number.isNaN(Date.parse(d.body.sentAt))).toBe(false);
    expect(await state(up.id)).toMatchObject({ status: 'sent', attempts: 0, next: null });
    expect((await wp.php(`echo get_post_meta(${up.id}, '_mmlq_edge_last_response', true);`)).trim()).toBe(
      'scored',
    );

    // Nothing left to send; a caption edit queues a rescore.
    await wp.runCron();
    expect(webhookDeliveries()).toHaveLength(1);
    expect((await api('POST', `wp/v2/media/${up.id}`, { caption: 'Lift-off at sunrise' })).status).toBe(200);
    await wp.runCron();
    expect(webhookDeliveries()).toHaveLength(2);
    expect(webhookDeliveries()[1]!.body).toMatchObject({
      event: 'attachment.rescore',
      attachment: { caption: 'Lift-off at sunrise' },
    });

    // The settings page's test ping.
    const ping = JSON.parse(await wp.php('echo json_encode(mmlq_edge_ping());'));
    expect(ping.code).toBe(200);
    const p = webhookDeliveries()[2]!;
    expect(p.body).toMatchObject({ event: 'ping', site: `${wp.url}/` });
    expect(p.body.attachment).toBeUndefined();
    const pts = p.headers['x-mmlq-timestamp'] as string;
    expect(p.headers['x-mmlq-signature']).toBe(
      `v2=${createHmac('sha256', SECRET).update(`${pts}.${p.headers['x-mmlq-delivery']}.${p.raw}`).digest('hex')}`,
    );
  });

  it('(b) takes the score over REST like the function does; filters by tier; picks the best image', async () => {
    const tiers = await api('GET', 'wp/v2/mmlq_tier?per_page=10');
    expect(tiers.status).toBe(200);
    const termId = (slug: string) =>
      (tiers.json as { id: number; slug: string }[]).find((t) => t.slug === slug)!.id;
    expect((tiers.json as { slug: string }[]).map((t) => t.slug).sort()).toEqual([
      'average',
      'good',
      'low',
      'top',
    ]);

    const meta = {
      mmlq_score: 7.25,
      mmlq_std: 0.5,
      mmlq_percentile: 91.5,
      mmlq_tier: 'top',
      mmlq_model: 'mmlq@1.0.0',
      mmlq_scored_at: '2026-11-23T19:00:00.000Z',
      mmlq_attributes: JSON.stringify({ sharp: 0.9, vivid: 0.7 }),
      mmlq_key: 'http://127.0.0.1#1#abc#def@mmlq@1.0.0',
      mmlq_error: '',
    };
    const write = await api('POST', `wp/v2/media/${scoredId}`, { meta, mmlq_tier: [termId('top')] });
    expect(write.status, JSON.stringify(write.json)).toBe(200);
    const back = await api('GET', `wp/v2/media/${scoredId}?context=edit`);
    expect(back.json.meta).toMatchObject(meta);
    expect(back.json.mmlq_tier).toEqual([termId('top')]);

    const other = await upload('storm.jpg', storm);
    otherId = other.id;
    await wp.runCron();
    const low = await api('POST', `wp/v2/media/${otherId}`, {
      meta: { mmlq_score: 3.1, mmlq_tier: 'low', mmlq_percentile: 12 },
      mmlq_tier: [termId('low')],
    });
    expect(low.status).toBe(200);
    const sentBefore = webhookDeliveries().length;
    await wp.runCron();
    expect(webhookDeliveries()).toHaveLength(sentBefore); // the function's writes do not queue a rescore

    const topOnly = await api('GET', `wp/v2/media?mmlq_tier=${termId('top')}`);
    expect((topOnly.json as { id: number }[]).map((m) => m.id)).toEqual([scoredId]);
    expect(
      (
        await wp.php(
          `echo get_term_by('slug', 'top', 'mmlq_tier')->count, ',', get_term_by('slug', 'low', 'mmlq_tier')->count;`,
        )
      ).trim(),
    ).toBe('1,1');

    // Anonymous clients cannot write scores.
    const anon = await api('POST', `wp/v2/media/${scoredId}`, { meta: { mmlq_score: 1 } }, {}, false);
    expect([401, 403]).toContain(anon.status);
    expect((await api('GET', `wp/v2/media/${scoredId}?context=edit`)).json.meta.mmlq_score).toBe(7.25);

    // A post that uses both images (one in its content, one as featured image) and an unscored one.
    const unscored = await upload('unscored.jpg', storm);
    const post = await api('POST', 'wp/v2/posts', {
      title: 'Launch day',
      status: 'publish',
      content: `<!-- wp:image {"id":${scoredId}} --><figure class="wp-block-image"><img src="${back.json.source_url}" class="wp-image-${scoredId}"/></figure><!-- /wp:image --><p><img class="wp-image-${unscored.id}" src="x"/></p>`,
      featured_media: otherId,
    });
    expect(post.status, JSON.stringify(post.json)).toBe(201);
    const best = await api('GET', `mmlq-edge/v1/posts/${post.json.id}/best-image`);
    expect(best.status, JSON.stringify(best.json)).toBe(200);
    expect(best.json).toEqual({
      post: post.json.id,
      attachment: scoredId,
      score: 7.25,
      tier: 'top',
      top: true,
      candidates: [
        { id: scoredId, score: 7.25, tier: 'top' },
        { id: otherId, score: 3.1, tier: 'low' },
        { id: unscored.id, score: null, tier: null },
      ],
    });
    expect((await wp.php(`var_export(mmlq_edge_best_image(${post.json.id}));`)).trim()).toBe(
      String(scoredId),
    );
    expect(
      (await api('GET', `mmlq-edge/v1/posts/${post.json.id}/best-image`, undefined, {}, false)).status,
    ).toBe(401);

    // wp-admin: the column, the tier filter, sorting by score, the attachment screen.
    const admin = await session();
    const list = await admin('/wp-admin/upload.php?mode=list&mmlq_tier=top');
    expect(list.status).toBe(200);
    expect(list.html).toContain(`id="post-${scoredId}"`);
    expect(list.html).not.toContain(`id="post-${otherId}"`);
    expect(list.html).toMatch(
      /<strong>7\.25<\/strong> <span class="mmlq-edge-tier mmlq-edge-tier-top">Top<\/span>/,
    );
    expect(list.html).toContain('Score with MMLQ Edge');
    const sorted = await admin('/wp-admin/upload.php?mode=list&orderby=mmlq_score&order=desc');
    const order = [...sorted.html.matchAll(/<tr id="post-(\d+)"/g)].map((m) => Number(m[1]));
    expect(order.slice(0, 2)).toEqual([scoredId, otherId]);
    const edit = await admin(`/wp-admin/post.php?post=${scoredId}&action=edit`);
    expect(edit.status).toBe(200);
    expect(edit.html).toContain('Percentile');
    expect(edit.html).toContain('91.5');
    expect(edit.html).toContain('mmlq@1.0.0');
    expect(edit.html).toContain('sharp 0.90');
  });

  it('(b2) only the scorer role (and admins) can do what wp-webhook does; authors and editors cannot write scores', async () => {
    const scorer = await userWithAppPassword('mmlq_edge_scorer');
    const editor = await userWithAppPassword('editor');
    const author = await userWithAppPassword('author');
    const contributor = await userWithAppPassword('contributor');
    const as = (auth: string) => ({ authorization: auth });

    // wp-webhook (layers/core/src/clients/wordpress.ts) with the application password of a user of the
    // role the plugin adds, as documented: the stored key (context=edit), the tier term (context=edit,
    // created when missing), the write.
    const read = await api('GET', `wp/v2/media/${otherId}?context=edit`, undefined, as(scorer), false);
    expect(read.status, JSON.stringify(read.json)).toBe(200);
    expect(read.json.meta.mmlq_score).toBe(3.1);
    const found = await api('GET', 'wp/v2/mmlq_tier?slug=low&context=edit', undefined, as(scorer), false);
    expect(found.status, JSON.stringify(found.json)).toBe(200);
    expect((found.json as { slug: string }[]).map((t) => t.slug)).toEqual(['low']);
    const write = await api(
      'POST',
      `wp/v2/media/${otherId}`,
      { meta: { mmlq_score: 3.1, mmlq_tier: 'low', mmlq_percentile: 12 }, mmlq_tier: [found.json[0].id] },
      as(scorer),
      false,
    );
    expect(write.status, JSON.stringify(write.json)).toBe(200);
    const created = await api(
      'POST',
      'wp/v2/mmlq_tier',
      { slug: 'test-tier', name: 'Test' },
      as(scorer),
      false,
    );
    expect(created.status, JSON.stringify(created.json)).toBe(201);

    // An Author cannot score their own image (meta or tier term), so best-image cannot be gamed; nor can
    // an Editor, who can edit every image.
    const topId = (await api('GET', 'wp/v2/mmlq_tier?slug=top')).json[0].id as number;
    const own = await api(
      'POST',
      'wp/v2/media',
      rocket,
      {
        ...as(author),
        'content-type': 'image/jpeg',
        'content-disposition': 'attachment; filename=authors-own.jpg',
      },
      false,
    );
    expect(own.status, JSON.stringify(own.json)).toBe(201);
    const gamed = await api(
      'POST',
      `wp/v2/media/${own.json.id}`,
      { meta: { mmlq_score: 9.99 }, mmlq_tier: [topId] },
      as(author),
      false,
    );
    expect(gamed.status, JSON.stringify(gamed.json)).toBe(403);
    const gamedTerm = await api(
      'POST',
      `wp/v2/media/${own.json.id}`,
      { mmlq_tier: [topId] },
      as(author),
      false,
    );
    expect(gamedTerm.status, JSON.stringify(gamedTerm.json)).toBe(403);
    const byEditor = await api(
      'POST',
      `wp/v2/media/${own.json.id}`,
      { meta: { mmlq_score: 9.99 } },
      as(editor),
      false,
    );
    expect(byEditor.status, JSON.stringify(byEditor.json)).toBe(403);
    expect((await api('POST', 'wp/v2/mmlq_tier', { slug: 'ed', name: 'Ed' }, as(editor), false)).status).toBe(
      403,
    );
    // The author may still edit their image's own fields.
    expect(
      (await api('POST', `wp/v2/media/${own.json.id}`, { alt_text: 'mine' }, as(author), false)).status,
    ).toBe(200);
    const stored = JSON.parse(
      await wp.php(
        `echo json_encode(['score' => get_post_meta(${own.json.id}, 'mmlq_score', true), 'tiers' => wp_get_object_terms(${own.json.id}, 'mmlq_tier', ['fields' => 'slugs'])]);`,
      ),
    );
    expect(stored).toEqual({ score: '', tiers: [] });
    const authorsPost = await api(
      'POST',
      'wp/v2/posts',
      {
        title: 'Mine too',
        status: 'draft',
        content: `<img class="wp-image-${own.json.id}"/><img class="wp-image-${scoredId}"/>`,
      },
      as(author),
      false,
    );
    expect(authorsPost.status, JSON.stringify(authorsPost.json)).toBe(201);
    expect((await wp.php(`var_export(mmlq_edge_best_image(${authorsPost.json.id}));`)).trim()).toBe(
      String(scoredId),
    );

    // Authors may neither add nor rename tiers; only admins delete them.
    const byAuthor = await api('POST', 'wp/v2/mmlq_tier', { slug: 'mine', name: 'Mine' }, as(author), false);
    expect(byAuthor.status).toBe(403);
    expect(byAuthor.json.code).toBe('rest_cannot_create');
    const renamed = await api('POST', `wp/v2/mmlq_tier/${created.json.id}`, { name: 'X' }, as(author), false);
    expect(renamed.status).toBe(403);
    expect(
      (await api('DELETE', `wp/v2/mmlq_tier/${created.json.id}?force=true`, undefined, as(scorer), false))
        .status,
    ).toBe(403);
    expect((await api('DELETE', `wp/v2/mmlq_tier/${created.json.id}?force=true`)).status).toBe(200);

    // best-image lists only images the user may read: a contributor's draft naming an image attached to
    // the admin's draft does not reveal its score.
    const hidden = Number(
      (
        await wp.php(`
          $draft = wp_insert_post(['post_title' => 'Private plans', 'post_status' => 'draft', 'post_author' => 1]);
          $id = wp_insert_attachment(['post_mime_type' => 'image/jpeg', 'post_title' => 'hidden', 'post_status' => 'inherit'], get_attached_file(${scoredId}), $draft);
          update_post_meta($id, 'mmlq_score', 9.9);
          update_post_meta($id, '_mmlq_edge_status', 'sent');
          wp_clear_scheduled_hook('mmlq_edge_send', [$id]);
          echo $id;`)
      ).trim(),
    );
    const draft = await api(
      'POST',
      'wp/v2/posts',
      {
        title: 'Mine',
        status: 'draft',
        content: `<img class="wp-image-${hidden}"/><img class="wp-image-${scoredId}"/>`,
      },
      as(contributor),
      false,
    );
    expect(draft.status, JSON.stringify(draft.json)).toBe(201);
    const mine = await api(
      'GET',
      `mmlq-edge/v1/posts/${draft.json.id}/best-image`,
      undefined,
      as(contributor),
      false,
    );
    expect(mine.status).toBe(200);
    expect(mine.json).toMatchObject({ attachment: scoredId, candidates: [{ id: scoredId, score: 7.25 }] });
    expect(mine.json.candidates).toHaveLength(1);
    const all = await api('GET', `mmlq-edge/v1/posts/${draft.json.id}/best-image`);
    expect(all.json.candidates.map((c: { id: number }) => c.id)).toEqual([hidden, scoredId]);
    expect(
      (await api('GET', `mmlq-edge/v1/posts/${draft.json.id}/best-image`, undefined, as(author), false))
        .status,
    ).toBe(403);

    // Score meta is edit-context only by default: a logged-out visitor sees none of it, not even for a
    // public image; the scorer (context=edit) does.
    const anon = await api('GET', `wp/v2/media/${scoredId}`, undefined, {}, false);
    expect(anon.status).toBe(200);
    expect(anon.json.meta?.mmlq_score).toBeUndefined();
    expect(anon.json.meta?.mmlq_key).toBeUndefined();
    // The filter opens chosen keys to the view context (a public front end), the hash stays private.
    const mu = join(wp.docroot, 'wp-content/mu-plugins/mmlq-edge-test-public-score.php');
    await writeFile(
      mu,
      "<?php add_filter('mmlq_edge_rest_public_meta', fn($p, $k) => in_array($k, ['mmlq_score', 'mmlq_tier'], true), 10, 2);\n",
    );
    try {
      const open = await api('GET', `wp/v2/media/${scoredId}`, undefined, {}, false);
      expect(open.json.meta?.mmlq_score).toBe(7.25);
      expect(open.json.meta?.mmlq_tier).toBe('top');
      expect(open.json.meta?.mmlq_key).toBeUndefined();
      const asScorer = await api('GET', `wp/v2/media/${scoredId}?context=edit`, undefined, as(scorer), false);
      expect(asScorer.json.meta).toMatchObject({
        mmlq_score: 7.25,
        mmlq_tier: 'top',
        mmlq_model: 'mmlq@1.0.0',
      });
      const again = await api(
        'POST',
        `wp/v2/media/${otherId}`,
        { meta: { mmlq_score: 3.1 } },
        as(scorer),
        false,
      );
      expect(again.status).toBe(200);
      expect(again.json.meta.mmlq_score).toBe(3.1);
    } finally {
      await rm(mu, { force: true });
    }
  });

  it('(c) retries 503 with backoff up to max attempts, fails 400 at once, and shows failures with Retry', async () => {
    reply = { status: 503, body: { error: { code: 'SCORER_UNAVAILABLE', message: 'busy' } } };
    await wp.runCron(); // anything still queued goes out first (503 for it too)
    const up = await upload('retry.jpg', storm);
    await wp.runCron();
    expect(webhookDeliveries(up.id)).toHaveLength(1);
    let s = await state(up.id);
    expect(s).toMatchObject({ status: 'pending', attempts: 1 });
    expect(s.error).toContain('503');
    expect(s.next).toBeGreaterThanOrEqual(55);
    expect(s.next).toBeLessThanOrEqual(60);
    await wp.runCron(); // not due yet
    expect(webhookDeliveries(up.id)).toHaveLength(1);

    // The image's own event, if it fires after the runner already tried the image in the same cron run
    // (an event scheduled before that try), does not send it again before its next try.
    await wp.php(`mmlq_edge_send(${up.id});`);
    expect(webhookDeliveries(up.id)).toHaveLength(1);
    expect(await state(up.id)).toMatchObject({ status: 'pending', attempts: 1 });

    await makeDue(up.id);
    await wp.runCron();
    s = await state(up.id);
    expect(s).toMatchObject({ status: 'pending', attempts: 2 });
    expect(s.next).toBeGreaterThanOrEqual(115);
    expect(s.next).toBeLessThanOrEqual(120);

    await makeDue(up.id);
    await wp.runCron();
    s = await state(up.id);
    expect(s).toMatchObject({ status: 'failed', attempts: 3, next: null });
    expect(s.error).toContain('503');
    expect(webhookDeliveries(up.id)).toHaveLength(3);

    reply = { status: 400, body: { error: { code: 'X', message: 'bad' } } };
    const bad = await upload('bad.jpg', storm);
    await wp.runCron();
    s = await state(bad.id);
    expect(s).toMatchObject({ status: 'failed', attempts: 1, next: null });
    expect(s.error).toBe('HTTP 400 X: bad');
    expect(webhookDeliveries(bad.id)).toHaveLength(1);

    // Visible in the media library, with a Retry link that queues it again.
    const admin = await session();
    const list = await admin('/wp-admin/upload.php?mode=list');
    expect(list.html).toContain('failed: HTTP 400 X: bad');
    expect(list.html).toContain('images could not be sent for scoring');
    const retry = new RegExp(
      `href="([^"]*action=mmlq_edge_retry&(?:amp;|#038;)?attachment=${bad.id}[^"]*)"`,
    ).exec(list.html);
    expect(retry, 'Retry link').not.toBeNull();
    const href = retry![1]!.replace(/&#038;|&amp;/g, '&');
    const followed = await admin(href.replace(wp.url, ''));
    expect(followed.status).toBe(302);
    expect(followed.location).toContain('mmlq_edge_queued=1');
    expect((await state(bad.id)).status).toBe('pending');
    const forged = await admin(
      `/wp-admin/admin-post.php?action=mmlq_edge_retry&attachment=${bad.id}&_wpnonce=nope`,
    );
    expect(forged.status).toBe(403);

    // An endpoint that is down (connection refused) is retried too.
    await wp.php(
      `$s = get_option('mmlq_edge_settings'); $s['endpoint'] = 'http://127.0.0.1:9/hook'; update_option('mmlq_edge_settings', $s);`,
    );
    await wp.runCron();
    s = await state(bad.id);
    expect(s).toMatchObject({ status: 'pending', attempts: 1 });
    expect(s.error).toMatch(/^HTTP_TRANSPORT: cURL error 7/);
    await wp.php(
      `$s = get_option('mmlq_edge_settings'); $s['endpoint'] = '${endpoint}'; update_option('mmlq_edge_settings', $s);`,
    );

    // A 2xx that is not wp-webhook's answer (serverless-offline's body for a Lambda timeout, a proxy's
    // page) is not taken as done: retried like a 502.
    reply = { status: 200, body: { errorMessage: 'Task timed out after 29.00 seconds' } };
    await makeDue(bad.id);
    await wp.runCron();
    s = await state(bad.id);
    expect(s).toMatchObject({ status: 'pending', attempts: 2 });
    expect(s.error).toContain(
      'unexpected answer (HTTP 200, {"errorMessage":"Task timed out after 29.00 seconds"})',
    );

    reply = { status: 200, body: { status: 'scored' } };
    await makeDue(bad.id);
    await wp.runCron();
    expect(await state(bad.id)).toMatchObject({ status: 'sent', attempts: 0 });
  });

  it('(e) no image is lost when uploads and WP-cron (wp-cron.php and in-process) run at the same time', async () => {
    await wp.runCron();
    deliveries.length = 0;
    // A scorer that takes a moment, so cron runs overlap the uploads (as on a real site).
    reply = { status: 200, body: { status: 'scored' }, delayMs: 150 };
    let uploading = true;
    const cron = (async () => {
      while (uploading)
        await Promise.all([wp.runCron(), fetch(`${wp.url}/wp-cron.php?doing_wp_cron`).then((r) => r.text())]);
    })();
    const burst: number[] = [];
    try {
      const ups = await Promise.all(
        Array.from({ length: 14 }, (_, i) => upload(`burst-${i}.jpg`, i % 2 ? rocket : storm)),
      );
      burst.push(...ups.map((u) => u.id as number));
    } finally {
      uploading = false;
      await cron;
    }
    const missing = () => burst.filter((id) => webhookDeliveries(id).length === 0);
    // Every row of the media list says where its image is.
    const admin = await session();
    const list = await admin('/wp-admin/upload.php?mode=list&posts_per_page=50');
    for (const id of burst) {
      const row = new RegExp(`<tr id="post-${id}"[\\s\\S]*?</tr>`).exec(list.html)?.[0] ?? '';
      expect(row, `row of ${id}`).toMatch(
        /column-mmlq_edge[^>]*>(queued|sending|sent, waiting for the score)/,
      );
    }
    // Then cron runs to completion (time passes: whatever the plugin scheduled becomes due).
    for (let i = 0; i < 6 && missing().length > 0; i++) {
      await advanceCron();
      await wp.runCron();
    }
    const states = Object.fromEntries(await Promise.all(missing().map(async (id) => [id, await state(id)])));
    expect(missing(), `never delivered: ${JSON.stringify(states)}`).toEqual([]);
    // Two cron runners that overlap may both run one image's event (WordPress core logs "Cron unschedule
    // event error ... could_not_set" for the second, see (d)); the image's claim lets only one send it.
    expect(Object.fromEntries(burst.map((id) => [id, webhookDeliveries(id).length]))).toEqual(
      Object.fromEntries(burst.map((id) => [id, 1])),
    );
    reply = { status: 200, body: { status: 'scored' } };
    // Bounded: one cron run sends at most a batch, however many are due.
    const bounded = JSON.parse(
      await wp.php(`
        foreach (${JSON.stringify(burst)} as $id) { mmlq_edge_queue($id, 'attachment.rescore'); }
        wp_unschedule_hook('mmlq_edge_send');
        $sent = mmlq_edge_run_queue();
        $pending = count(array_filter(${JSON.stringify(burst)}, fn($id) => 'pending' === get_post_meta($id, '_mmlq_edge_status', true)));
        echo json_encode(['sent' => $sent, 'pending' => $pending]);`),
    );
    expect(bounded.sent).toBeGreaterThan(0);
    expect(bounded.sent).toBeLessThanOrEqual(10);
    expect(bounded.pending).toBe(burst.length - bounded.sent);
    await wp.php(
      `foreach (${JSON.stringify(burst)} as $id) { wp_delete_attachment($id, true); } wp_unschedule_hook('mmlq_edge_send');`,
    );
  });

  it('(e2) a retry shows "next try at" in the media list, from the queue even when its event is gone', async () => {
    await wp.runCron();
    reply = { status: 503, body: { error: { code: 'SCORER_UNAVAILABLE', message: 'busy' } } };
    const up = await upload('later.jpg', storm);
    await wp.runCron();
    reply = { status: 200, body: { status: 'scored' } };
    await wp.php(`wp_clear_scheduled_hook('mmlq_edge_send', [${up.id}]);`); // lost from the cron option
    const admin = await session();
    const list = await admin('/wp-admin/upload.php?mode=list');
    const row = new RegExp(`<tr id="post-${up.id}"[\\s\\S]*?</tr>`).exec(list.html)?.[0] ?? '';
    expect(row).toContain('queued');
    expect(row).toContain('attempt 1 of 3 failed: HTTP 503');
    expect(row).toMatch(/next try at \d/);
    await wp.php(`update_post_meta(${up.id}, '_mmlq_edge_next_try', time() - 1);`);
    await advanceCron();
    await wp.runCron();
    expect(await state(up.id)).toMatchObject({ status: 'sent' });
    await wp.php(`wp_delete_attachment(${up.id}, true);`);
  });

  it('(f) an edited or replaced image file is scored again, with its new checksum', async () => {
    await wp.runCron();
    const up = await upload('edit-me.jpg', rocket);
    await wp.runCron();
    expect(await state(up.id)).toMatchObject({ status: 'sent' });
    const first = webhookDeliveries(up.id).at(-1)!.body.attachment.sha256 as string;
    const count = webhookDeliveries(up.id).length;

    // Regenerating the metadata of the same file does not rescore.
    await wp.php(`
      require_once ABSPATH . 'wp-admin/includes/image.php';
      wp_update_attachment_metadata(${up.id}, wp_generate_attachment_metadata(${up.id}, get_attached_file(${up.id})));`);
    await wp.runCron();
    expect(webhookDeliveries(up.id)).toHaveLength(count);

    // Edit Image → rotate 90° → save (what image-edit.php's AJAX handler calls).
    const saved = await wp.php(`
      require_once ABSPATH . 'wp-admin/includes/image.php';
      require_once ABSPATH . 'wp-admin/includes/image-edit.php';
      wp_set_current_user(1);
      $_REQUEST['history'] = wp_slash('[{"r":90}]');
      $_REQUEST['target'] = 'all';
      $_REQUEST['do'] = 'save';
      echo json_encode(wp_save_image(${up.id}));`);
    expect(JSON.parse(saved).msg, saved).toBe('Image saved');
    await wp.runCron();
    const rotated = webhookDeliveries(up.id).slice(count);
    expect(rotated).toHaveLength(1);
    expect(rotated[0]!.body).toMatchObject({
      event: 'attachment.rescore',
      attachment: { width: 683, height: 1024 },
    });
    expect(rotated[0]!.body.attachment.sha256).not.toBe(first);
    expect(rotated[0]!.body.attachment.sha256).toMatch(/^[0-9a-f]{64}$/);

    // The file replaced in place (a media-replace plugin): new bytes, same path.
    await wp.php(`
      require_once ABSPATH . 'wp-admin/includes/image.php';
      $file = get_attached_file(${up.id});
      copy(${JSON.stringify(STORM)}, $file);
      wp_update_attachment_metadata(${up.id}, wp_generate_attachment_metadata(${up.id}, $file));`);
    await wp.runCron();
    const replaced = webhookDeliveries(up.id).slice(count + 1);
    expect(replaced).toHaveLength(1);
    expect(replaced[0]!.body.attachment.sha256).toBe(createHash('sha256').update(storm).digest('hex'));
    await wp.php(`wp_delete_attachment(${up.id}, true);`);
  });

  it('settings page: test ping, saving keeps the secret and refuses non-http endpoints', async () => {
    const admin = await session();
    // The secret generated on activation is shown on the first visit only.
    const first = await admin('/wp-admin/options-general.php?page=mmlq-edge');
    expect(first.status).toBe(200);
    expect(first.html).toContain(SECRET);
    const page = await admin('/wp-admin/options-general.php?page=mmlq-edge');
    expect(page.html).toContain('Send a test ping');
    expect(page.html).toContain('Score all unscored images');
    expect(page.html).toContain('Regenerate secret');
    expect(page.html).toMatch(/ending in …\w{4}/);
    expect(page.html).not.toContain(SECRET);
    expect(page.html).toMatch(/Now: \d+ queued, \d+ sent, \d+ failed; \d+ images have no score\./);

    deliveries.length = 0;
    const ping = await admin('/wp-admin/admin-post.php', formFields(page.html, 'mmlq_edge_ping'));
    expect(ping.status).toBe(302);
    expect(webhookDeliveries().map((d) => d.body.event)).toEqual(['ping']);
    const shown = await admin(ping.location);
    expect(shown.html).toContain('Test ping: HTTP 200 (scored).');
    // With the filter off (its default on multisite) a loopback endpoint fails WordPress's safe-URL check
    // and nothing is sent.
    const unsafe = JSON.parse(
      await wp.php(
        `add_filter('mmlq_edge_allow_private_endpoint', '__return_false'); echo json_encode(mmlq_edge_ping());`,
      ),
    );
    expect(unsafe).toMatchObject({ code: 0, error: 'HTTP_TRANSPORT: A valid URL was not provided.' });
    expect(webhookDeliveries()).toHaveLength(1);

    const save = (extra: Record<string, string>) =>
      admin('/wp-admin/options.php', {
        ...formFields(page.html, 'update'),
        'mmlq_edge_settings[_form]': '1',
        'mmlq_edge_settings[timeout]': '5',
        'mmlq_edge_settings[enabled]': '1',
        ...extra,
      });
    const settings = async () => JSON.parse(await wp.php('echo json_encode(mmlq_edge_settings());'));
    expect(
      (await save({ 'mmlq_edge_settings[endpoint]': endpoint, 'mmlq_edge_settings[max_attempts]': '4' }))
        .status,
    ).toBe(302);
    expect(await settings()).toEqual({
      endpoint,
      secret: SECRET,
      enabled: true,
      max_attempts: 4,
      timeout: 5,
      include_comments: false,
      hero_on_publish: false,
      crop_aspects: '16:9',
    });
    const refused = await save({
      'mmlq_edge_settings[endpoint]': 'ftp://example.test/hook',
      'mmlq_edge_settings[include_comments]': '1',
      'mmlq_edge_settings[max_attempts]': '3',
    });
    expect(await settings()).toMatchObject({
      endpoint,
      secret: SECRET,
      include_comments: true,
      max_attempts: 3,
    });
    // The error is shown once (pages under Settings get settings_errors() from core).
    const notice = await admin(refused.location);
    expect(notice.html.split('The endpoint must be an http').length - 1).toBe(1);
    // A malformed field (an array) is refused like a bad URL, without a PHP warning.
    expect((await save({ 'mmlq_edge_settings[endpoint][]': 'http://example.test/' })).status).toBe(302);
    expect((await settings()).endpoint).toBe(endpoint);
    // A line of our own first: if WordPress's debug log were not where we read, this would fail.
    await wp.php("error_log('test: the debug log is on');");
    const log = await readFile(wp.debugLog, 'utf8');
    expect(log).toContain('test: the debug log is on');
    expect(log).not.toMatch(/Array to string conversion.*mmlq-edge/);

    // Suggested privacy policy text, since texts and comments leave the site.
    const guide = await admin('/wp-admin/options-privacy.php?tab=policyguide');
    expect(guide.html).toContain('approved comments on the image, to the MMLQ Edge deployment');

    const regenerated = await admin(
      '/wp-admin/admin-post.php',
      formFields(page.html, 'mmlq_edge_regenerate'),
    );
    expect(regenerated.status).toBe(302);
    const fresh = (await settings()).secret as string;
    expect(fresh).toMatch(/^[0-9a-f]{64}$/);
    expect((await admin(regenerated.location)).html).toContain(fresh);
    expect((await admin('/wp-admin/options-general.php?page=mmlq-edge')).html).not.toContain(fresh);
    // Not autoloaded (also after the regenerate's update_option), and not in the REST settings.
    const autoload = await wp.php(
      `global $wpdb; echo json_encode($wpdb->get_col("SELECT autoload FROM $wpdb->options WHERE option_name IN ('mmlq_edge_settings', 'mmlq_edge_backfill', 'mmlq_edge_secret_unseen')"));`,
    );
    expect(JSON.parse(autoload)).toEqual(expect.arrayContaining(['no']));
    expect(JSON.parse(autoload)).not.toContain('yes');
    const restSettings = await api('GET', 'wp/v2/settings');
    expect(restSettings.status).toBe(200);
    expect(JSON.stringify(restSettings.json)).not.toContain(fresh);
    await wp.php(
      `$s = get_option('mmlq_edge_settings'); $s['secret'] = '${SECRET}'; update_option('mmlq_edge_settings', $s);`,
    );
  });

  it('"score all" waits while 100 images are pending and resumes on reactivation; rescheduling is batched', async () => {
    await wp.runCron();
    deliveries.length = 0;
    // 100 pending deliveries (status rows only: that is what the backfill counts).
    await wp.php(
      `for ($i = 0; $i < 100; $i++) { add_post_meta(900000 + $i, '_mmlq_edge_status', 'pending'); }`,
    );
    await wp.php('mmlq_edge_start_backfill();');
    await wp.runCron();
    expect(webhookDeliveries()).toHaveLength(0);
    const waiting = JSON.parse(
      await wp.php(
        "echo json_encode(['state' => get_option('mmlq_edge_backfill'), 'next' => wp_next_scheduled('mmlq_edge_backfill') - time()]);",
      ),
    );
    expect(waiting.state).toMatchObject({ state: 'running', queued: 0 });
    expect(waiting.next).toBeGreaterThanOrEqual(55);
    expect(waiting.next).toBeLessThanOrEqual(60);

    // Deactivation drops the event; activation resumes the backfill (now that the queue is short).
    const plugin = "require_once ABSPATH . 'wp-admin/includes/plugin.php';";
    await wp.php(`${plugin} deactivate_plugins('mmlq-edge/mmlq-edge.php');`);
    expect((await wp.php("var_export(wp_next_scheduled('mmlq_edge_backfill'));")).trim()).toBe('false');
    await wp.php('global $wpdb; $wpdb->query("DELETE FROM $wpdb->postmeta WHERE post_id >= 900000");');
    await wp.php(
      `${plugin} $r = activate_plugin('mmlq-edge/mmlq-edge.php'); if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }`,
    );
    // Every unscored image is delivered (one still pending from an earlier test may go out twice: once
    // rescheduled on activation, once queued by the backfill, since this receiver writes no scores).
    const unscored = JSON.parse(
      await wp.php('echo json_encode(mmlq_edge_unscored_ids(0, 1000));'),
    ) as number[];
    expect(unscored.length).toBeGreaterThanOrEqual(4);
    await wp.runCron();
    const delivered = new Set(webhookDeliveries().map((d) => d.body.attachment.id as number));
    expect([...delivered].sort((a, b) => a - b)).toEqual(unscored);
    expect(JSON.parse(await wp.php("echo json_encode(get_option('mmlq_edge_backfill'));"))).toMatchObject({
      state: 'done',
      queued: unscored.length,
    });

    // Pending images without an event get one 50 at a time; the rest in a follow-up cron event.
    const batched = JSON.parse(
      await wp.php(`
        $ids = [];
        for ($i = 0; $i < 51; $i++) {
          $ids[] = wp_insert_attachment(['post_mime_type' => 'image/jpeg', 'post_title' => "r$i", 'post_status' => 'inherit']);
        }
        wp_unschedule_hook('mmlq_edge_send');
        $scheduled = fn() => count(array_filter($ids, fn($id) => false !== wp_next_scheduled('mmlq_edge_send', [$id])));
        $first = mmlq_edge_reschedule_pending();
        $out = ['first' => $first, 'scheduled' => $scheduled(), 'continues' => false !== wp_next_scheduled('mmlq_edge_reschedule', [$ids[49]])];
        do_action('mmlq_edge_reschedule', $ids[49]);
        $out['after'] = $scheduled();
        foreach ($ids as $id) { wp_delete_attachment($id, true); }
        echo json_encode($out);`),
    );
    expect(batched).toEqual({ first: 50, scheduled: 50, continues: true, after: 51 });
  });

  it('queues every unscored image with "score all", and uninstall keeps the scores', async () => {
    deliveries.length = 0;
    const unscored = Number((await wp.php('echo mmlq_edge_unscored_count();')).trim());
    expect(unscored).toBeGreaterThanOrEqual(4);
    await wp.php('mmlq_edge_start_backfill();');
    await wp.runCron();
    const ids = webhookDeliveries().map((d) => d.body.attachment.id as number);
    expect(ids).toHaveLength(unscored);
    expect(ids).not.toContain(scoredId);
    expect(ids).not.toContain(otherId);
    const progress = JSON.parse(await wp.php("echo json_encode(get_option('mmlq_edge_backfill'));"));
    expect(progress).toMatchObject({ state: 'done', queued: unscored, total: unscored });

    await wp.php(`
      require_once ABSPATH . 'wp-admin/includes/plugin.php';
      deactivate_plugins('mmlq-edge/mmlq-edge.php');
      uninstall_plugin('mmlq-edge/mmlq-edge.php');`);
    const after = JSON.parse(
      await wp.php(`echo json_encode([
        'settings' => get_option('mmlq_edge_settings', null),
        'events' => wp_next_scheduled('mmlq_edge_backfill'),
        'reschedule' => (bool) array_filter(_get_cron_array(), fn($hooks) => isset($hooks['mmlq_edge_reschedule'])),
        'score' => get_post_meta(${scoredId}, 'mmlq_score', true),
        'status' => get_post_meta(${scoredId}, '_mmlq_edge_status', true),
        'tier' => wp_get_object_terms(${scoredId}, 'mmlq_tier', ['fields' => 'slugs']),
        'runner' => wp_next_scheduled('mmlq_edge_run_queue'),
        'role' => null !== get_role('mmlq_edge_scorer'),
        'adminCap' => get_role('administrator')->has_cap('mmlq_edge_write_scores'),
        'queueMeta' => (int) $GLOBALS['wpdb']->get_var("SELECT COUNT(*) FROM {$GLOBALS['wpdb']->postmeta} WHERE meta_key LIKE '\\_mmlq\\_edge\\_%'"),
      ]);`),
    );
    expect(after).toMatchObject({
      settings: null,
      events: false,
      runner: false,
      role: false,
      adminCap: false,
      queueMeta: 0,
      reschedule: false,
      score: '7.25',
      status: '',
    });
  });

  it('(d) every PHP file passes php -l, and the plugin logged no PHP errors', async () => {
    const files = (await readdir(PLUGIN, { recursive: true }))
      .filter((f) => f.endsWith('.php'))
      .map((f) => join(PLUGIN, f));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      const { stdout } = await promisify(execFile)('php', ['-l', file]);
      expect(stdout).toContain('No syntax errors');
    }
    // A line of our own first: if WordPress's debug log were not where we read, this would fail.
    await wp.php("error_log('test: the debug log is on');");
    const log = await readFile(wp.debugLog, 'utf8');
    expect(log).toContain('test: the debug log is on');
    // Left out: WordPress core's own line when two cron runners overlap (as (e) makes them) and the second
    // finds the event it was about to run already taken from the cron option by the first (wp-cron.php logs
    // it, then runs the hook anyway: (e) checks that the image is still sent once).
    const coreCronRace =
      /Cron (un|re)schedule event error for hook: mmlq_edge_\w+, Error code: could_not_set,/;
    expect(log.split('\n').filter((l) => /mmlq-edge\/|mmlq_edge/.test(l) && !coreCronRace.test(l))).toEqual(
      [],
    );
  });

  it('(g) the local harness PHP programs (tools/local/php) pass php -l', async () => {
    const dir = join(ROOT, 'tools/local/php');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.php')).map((f) => join(dir, f));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      const { stdout } = await promisify(execFile)('php', ['-l', file]);
      expect(stdout).toContain('No syntax errors');
    }
  });
});
