/**
 * `npm start`: the local stack with the default model (or MODEL / MODELS_DIR), on 127.0.0.1.
 * Drop images into .local/drop/ (or PutObject under uploads/ in the local bucket) and they are scored,
 * tagged and get a result JSON, through the same handlers that run on AWS.
 *
 * On start it uploads the sample photos (test/fixtures/samples, or MMLQ_SEED_DIR) through the same
 * path and prints them ranked from their result JSON. `npm start -- --once` exits after that (exit 1
 * if any sample failed); `--no-seed` skips it.
 *
 * Environment: MODEL, MODELS_DIR, MMLQ_BUCKET (mmlq-local), MMLQ_S3_PORT (4569), MMLQ_HTTP_PORT (3000),
 * MMLQ_LAMBDA_PORT (3002), MMLQ_DATA_DIR (.local), MMLQ_SEED_DIR (test/fixtures/samples).
 */

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, watch } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { newApiKey } from '#core/api-auth/keys.ts';
import { buildReport, formatTable, type Outcome } from '#core/cli/output.ts';
import { sleep } from '#core/common/time.ts';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR } from '#core/model/registry.ts';
import type { StoredResult } from '#core/results/store.ts';
import { startStack } from './stack.ts';
import { startWordPress } from './wordpress.ts';

const { values: flags } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    'no-seed': { type: 'boolean', default: false },
    // Also a real WordPress with the plugin wired to the local wp-webhook (.ci/wordpress-deps.sh).
    wordpress: { type: 'boolean', default: false },
  },
});
const env = process.env;
const root = resolve(import.meta.dirname, '../..');
const model = env['MODEL'] || DEFAULT_MODEL;
const modelsDir = resolve(env['MODELS_DIR'] || DEFAULT_MODELS_DIR);
const dataDir = resolve(env['MMLQ_DATA_DIR'] || join(root, '.local'));
const port = (name: string, fallback: number) => Number(env[name] || fallback);

if (!existsSync(join(modelsDir, model, 'manifest.json'))) {
  const available = existsSync(modelsDir)
    ? (await readdir(modelsDir)).filter((d) => existsSync(join(modelsDir, d, 'manifest.json')))
    : [];
  console.error(
    `Model "${model}" is not in ${modelsDir} (no ${model}/manifest.json). Available: ${available.join(', ') || 'none'}.\n` +
      'Set MODEL and/or MODELS_DIR to a model folder (see docs/MODEL_FORMAT.md).',
  );
  process.exit(2);
}

const httpPort = port('MMLQ_HTTP_PORT', 3000);
const wpSecret = randomBytes(32).toString('hex');
// The HTTP API needs a key locally too: a new one per run; the stack's authorizer gets its sha256 through
// the environment the stack passes on (serverless.yml, stage local: API_KEYS_JSON).
const apiKey = newApiKey('local');
env['API_KEYS_JSON'] = JSON.stringify([apiKey.entry]);
const wp = flags.wordpress
  ? await startWordPress({
      dir: join(dataDir, 'wordpress'),
      port: port('MMLQ_WP_PORT', 8088),
      plugins: [join(root, 'plugins/wordpress/mmlq-edge')],
      options: {
        mmlq_edge_settings: {
          endpoint: `http://127.0.0.1:${httpPort}/v1/wordpress/webhook`,
          secret: wpSecret,
          enabled: true,
          max_attempts: 6,
          timeout: 30,
          include_comments: true,
        },
      },
      log: (line) => console.log(`[wordpress] ${line}`),
    })
  : undefined;

const stack = await startStack({
  root,
  dataDir: join(dataDir, 's3'),
  bucket: env['MMLQ_BUCKET'] || 'mmlq-local',
  s3Port: port('MMLQ_S3_PORT', 4569),
  httpPort,
  lambdaPort: port('MMLQ_LAMBDA_PORT', 3002),
  model,
  modelsDir,
  ...(wp
    ? {
        env: {
          WP_SITE_URL: `${wp.url}/`,
          WP_USER: wp.admin.user,
          WP_WEBHOOK_SECRET: wpSecret,
          WP_APP_PASSWORD: wp.admin.appPassword,
          // The scorer fetches media from the local WordPress, on loopback.
          URL_ALLOWED_ORIGINS: wp.url,
          URL_ALLOW_PRIVATE_NETWORKS: 'true',
        },
      }
    : {}),
  log: (line) => console.log(`[stack] ${line}`),
  offlineOutput: (text) => {
    if (/error|warn|λ/i.test(text) && !/NodeVersionSupportWarning|No application metrics/.test(text)) {
      process.stdout.write(text);
    }
  },
});

/** Uploads the sample photos under uploads/samples/ and prints them ranked once their results exist. */
async function seed(dir: string): Promise<number> {
  const names = (await readdir(dir)).filter((n) => /\.(jpe?g|png|webp|gif|avif|tiff?)$/i.test(n)).sort();
  const started = performance.now();
  console.log(
    `[seed] uploading ${names.length} sample photos from ${dir} to s3://${stack.bucket}/${stack.uploadPrefix}samples/`,
  );
  await Promise.all(
    names.map((n) =>
      stack.s3.send(
        new PutObjectCommand({
          Bucket: stack.bucket,
          Key: `${stack.uploadPrefix}samples/${n}`,
          Body: readFileSync(join(dir, n)),
        }),
      ),
    ),
  );
  const outcomes: Outcome[] = [];
  let scoredBy = { name: model, version: '?' };
  for (const n of names) {
    const key = `results/${stack.uploadPrefix}samples/${n}.json`;
    const deadline = Date.now() + 180_000;
    for (;;) {
      try {
        const body = await (
          await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }))
        ).Body!.transformToString();
        const stored = JSON.parse(body) as StoredResult;
        scoredBy = stored.model;
        outcomes.push(
          stored.ok ? { id: n, ok: true, result: stored.result } : { id: n, ok: false, error: stored.error },
        );
        break;
      } catch {
        if (Date.now() > deadline) {
          outcomes.push({
            id: n,
            ok: false,
            error: { code: 'INTERNAL', message: `no result at s3://${stack.bucket}/${key} after 180 s` },
          });
          break;
        }
        await sleep(200);
      }
    }
  }
  console.log(
    `\nSample photos, ranked by the scorer (results in s3://${stack.bucket}/results/${stack.uploadPrefix}samples/):\n`,
  );
  console.log(
    formatTable(buildReport(outcomes, { ...scoredBy, provider: 'scorer' }, performance.now() - started)),
  );
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

async function stopAll(): Promise<void> {
  await stack.stop();
  await wp?.stop();
}

if (!flags['no-seed']) {
  const code = await seed(resolve(env['MMLQ_SEED_DIR'] || join(root, 'test/fixtures/samples')));
  if (flags.once) {
    await stopAll();
    process.exit(code);
  }
}

// WordPress here runs with DISABLE_WP_CRON: deliver the plugin's queued webhooks every 2 s.
if (wp) {
  let running = false;
  setInterval(() => {
    if (running) return;
    running = true;
    wp.runCron()
      .catch((error: unknown) => console.error(`[wordpress] cron: ${(error as Error).message}`))
      .finally(() => {
        running = false;
      });
  }, 2000).unref();
}

const drop = join(dataDir, 'drop');
await mkdir(drop, { recursive: true });
const sent = new Map<string, number>();
const busy = new Set<string>();
async function upload(name: string) {
  const path = join(drop, name);
  if (busy.has(name)) return;
  busy.add(name);
  try {
    const st = await stat(path);
    if (!st.isFile() || sent.get(name) === st.mtimeMs) return;
    await sleep(250);
    const now = await stat(path);
    if (now.size !== st.size || now.mtimeMs !== st.mtimeMs) {
      setTimeout(() => upload(name), 250);
      return;
    }
    sent.set(name, st.mtimeMs);
    const key = `${stack.uploadPrefix}${basename(name)}`;
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: await readFile(path) }));
    console.log(`[drop] ${name} → s3://${stack.bucket}/${key}`);
  } catch {
    // removed before it could be read
  } finally {
    busy.delete(name);
  }
}
for (const name of await readdir(drop)) void upload(name);
watch(drop, (_, name) => name && void upload(name));

console.log(`
mmlq-edge local stack is up (model ${model}).
  Drop images into      ${drop}
    → scored via on-upload; results in s3://${stack.bucket}/results/uploads/<name>.json, tags on the object
  Or use S3 directly     AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \\
                         aws --endpoint-url ${stack.s3Endpoint} s3 cp photo.jpg s3://${stack.bucket}/${stack.uploadPrefix}
  S3 objects on disk     ${join(dataDir, 's3', stack.bucket)}
  HTTP API               export MMLQ_API_KEY=${apiKey.key}   (a new key each run)
                         curl -s -H "authorization: Bearer $MMLQ_API_KEY" ${stack.apiUrl}/v1/health
                         curl -s -H "authorization: Bearer $MMLQ_API_KEY" -H 'content-type: application/octet-stream' --data-binary @photo.jpg ${stack.apiUrl}/v1/scores
  Lambda endpoint        ${stack.lambdaEndpoint} (functions ${stack.functionName('on-upload')}, ${stack.functionName('scorer')})
  Failed deliveries      s3://${stack.bucket}/${stack.deadLetterPrefix}on-upload/${
    wp
      ? `
  WordPress              ${wp.url}/wp-admin/ (user ${wp.admin.user}, password ${wp.admin.password})
    → Media → Add New; the "Aesthetic" column fills in within seconds (plugin → ${stack.apiUrl}/v1/wordpress/webhook)`
      : `
  WordPress too          npm start -- --wordpress   (a real WordPress with the plugin; docs/WORDPRESS.md)`
  }
Ctrl-C stops it.`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log('\nstopping…');
    void stopAll().then(() => process.exit(0));
  });
}
