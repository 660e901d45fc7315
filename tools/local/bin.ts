/**
 * `npm start`: the local stack with the default model (or MODEL / MODELS_DIR), on 127.0.0.1.
 * Drop images into .local/drop/ (or PutObject under uploads/ in the local bucket) and they are scored,
 * tagged and get a result JSON, through the same handlers that run on AWS.
 *
 * On start it uploads the sample photos (test/fixtures/samples, or MMLQ_SEED_DIR) through the same
 * path and prints them ranked from their result JSON. `npm start -- --once` exits after that (exit 1
 * if any sample failed); `--no-seed` skips it.
 *
 * Flags and environment variables: `npm start -- --help` (tools/local/options.ts lists them).
 *
 * SIGINT, SIGTERM and SIGHUP stop everything it started (serverless-offline's process group, s3rver,
 * WordPress) and free the ports; if serverless-offline dies on its own, it says so and exits 1.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { hashKey, newApiKey } from '#core/api-auth/keys.ts';
import { buildReport, formatTable, type Outcome } from '#core/cli/output.ts';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR, listModels, splitModelName } from '#core/model/registry.ts';
import type { RecomputeReport } from '#core/results/library.ts';
import { type DropWatcher, watchDrop } from './drop.ts';
import { busyPorts, type LocalConfig, parseStartArgs, readLocalConfig, usage } from './options.ts';
import { awaitResult } from './results.ts';
import { PortInUseError, type Stack, startStack } from './stack.ts';
import { startWordPress, type WordPress } from './wordpress.ts';

const parsed = parseStartArgs(process.argv.slice(2));
if (parsed.kind === 'help') {
  process.stdout.write(usage());
  process.exit(0);
}
if (parsed.kind === 'error') {
  process.stderr.write(`error: ${parsed.message}\n\n${usage()}`);
  process.exit(2);
}
const flags = parsed.flags;
const env = process.env;
const root = resolve(import.meta.dirname, '../..');
const model = env['MODEL'] || DEFAULT_MODEL;
const modelsDir = resolve(env['MODELS_DIR'] || DEFAULT_MODELS_DIR);
let config: LocalConfig;
try {
  config = readLocalConfig(env, root);
} catch (error) {
  process.stderr.write(`error: ${(error as Error).message}\n\n${usage()}`);
  process.exit(2);
}
const dataDir = config.dataDir;

// Stop what was started on every way out; installed before anything starts.
let stack: Stack | undefined;
let wp: WordPress | undefined;
let dropWatcher: DropWatcher | undefined;
let cronTimer: NodeJS.Timeout | undefined;
let stopping: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    clearInterval(cronTimer);
    dropWatcher?.close();
    await stack?.stop().catch((e: unknown) => console.error(`[stack] stop: ${(e as Error).message}`));
    await wp?.stop().catch((e: unknown) => console.error(`[wordpress] stop: ${(e as Error).message}`));
  })();
  return stopping;
}
async function exit(code: number): Promise<never> {
  await stopAll();
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    console.log(`\n${signal}: stopping…`);
    void exit(0);
  });
}
// If whoever started us (npm) is killed outright, stop too rather than run on unattended.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid === parentPid || stopping) return;
  console.error(`\nparent process ${parentPid} is gone: stopping…`);
  void exit(1);
}, 1000).unref();

const available = await listModels(modelsDir);
const [modelFolder] = splitModelName(model);
if (!available.includes(modelFolder)) {
  console.error(
    `Model "${model}" is not in ${modelsDir} (no ${modelFolder}/manifest.json). Available: ${available.join(', ') || 'none'}.\n` +
      'Set MODEL and/or MODELS_DIR to a model folder (see docs/MODEL_FORMAT.md).',
  );
  process.exit(2);
}

const ports: Record<string, number> = {
  MMLQ_S3_PORT: config.s3Port,
  MMLQ_HTTP_PORT: config.httpPort,
  MMLQ_LAMBDA_PORT: config.lambdaPort,
  ...(flags.wordpress ? { MMLQ_WP_PORT: config.wpPort } : {}),
};
const busy = await busyPorts(ports);
if (busy.length) {
  console.error(
    `${busy.map((b) => `error: ${b}`).join('\n')}\n(another npm start still running? npm start -- --help lists the variables)`,
  );
  process.exit(2);
}

const httpPort = config.httpPort;
const wpSecret = randomBytes(32).toString('hex');
// The HTTP API needs a key locally too: MMLQ_API_KEY if set (to keep one across restarts), else a new one
// per run. The stack's authorizer gets its sha256 through the environment the stack passes on
// (serverless.yml, stage local: API_KEYS_JSON).
const apiKey = config.apiKey
  ? { key: config.apiKey, entry: { id: 'local', sha256: hashKey(config.apiKey), name: 'local' } }
  : newApiKey('local');
process.env['API_KEYS_JSON'] = JSON.stringify([apiKey.entry]);
wp = flags.wordpress
  ? await startWordPress({
      dir: join(dataDir, 'wordpress'),
      port: config.wpPort,
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

const variableOf = { s3Port: 'MMLQ_S3_PORT', httpPort: 'MMLQ_HTTP_PORT', lambdaPort: 'MMLQ_LAMBDA_PORT' };
const started = await startStack({
  root,
  dataDir: join(dataDir, 's3'),
  deadLetterDir: join(dataDir, 'dead-letter'),
  bucket: config.bucket,
  s3Port: config.s3Port,
  httpPort,
  lambdaPort: config.lambdaPort,
  concurrency: config.concurrency,
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
}).catch(async (error: unknown) => {
  if (!(error instanceof PortInUseError)) throw error;
  const name = variableOf[error.what];
  console.error(
    `error: port ${error.port} (${name}) is in use; free it or choose another: ${name}=<port> npm start`,
  );
  return exit(2);
});
stack = started;
void started.died.then((message) => {
  if (stopping) return;
  console.error(`\n[stack] error: ${message}\nStopping; run npm start again.`);
  void exit(1);
});

/** Uploads the sample photos under uploads/samples/ and prints them ranked once their results exist. */
async function seed(stack: Stack, dir: string): Promise<number> {
  const names = (await readdir(dir))
    .filter((n) => stack.uploadSuffixes.some((s) => n.toLowerCase().endsWith(s)))
    .sort();
  const t0 = performance.now();
  console.log(
    `[seed] uploading ${names.length} sample photos from ${dir} to s3://${stack.bucket}/${stack.uploadPrefix}samples/`,
  );
  const since = stack.bridge.reports.length;
  const uploads = await Promise.all(
    names.map(async (n) => {
      const key = `${stack.uploadPrefix}samples/${n}`;
      const put = await stack.s3.send(
        new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: readFileSync(join(dir, n)) }),
      );
      return { n, key, etag: put.ETag ?? '' };
    }),
  );
  // Only the results of what was just uploaded (same ETag, this model), not an earlier run's.
  const awaited = await Promise.all(
    uploads.map(({ n, key, etag }) =>
      awaitResult({
        s3: stack.s3,
        bucket: stack.bucket,
        key,
        etag,
        model,
        id: n,
        bridge: { reports: stack.bridge.reports, since },
      }),
    ),
  );
  const outcomes: Outcome[] = awaited.map((a) => a.outcome);
  const scoredBy = awaited.find((a) => a.model)?.model ?? { name: model, version: '?' };
  console.log(
    `\nSample photos, ranked by the scorer (results in s3://${stack.bucket}/results/${stack.uploadPrefix}samples/):\n`,
  );
  console.log(
    formatTable(buildReport(outcomes, { ...scoredBy, provider: 'scorer' }, performance.now() - t0)),
  );
  await rankLibraries(stack);
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

/** Runs the library-tiers function once, as its schedule does (every 15 minutes here too), and says what it did. */
async function rankLibraries(stack: Stack): Promise<void> {
  const out = await stack.lambda.send(
    new InvokeCommand({ FunctionName: stack.functionName('library-tiers'), Payload: JSON.stringify({}) }),
  );
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  if (out.FunctionError) {
    console.error(`[library-tiers] failed: ${text.slice(0, 500)}`);
    return;
  }
  for (const l of (JSON.parse(text) as RecomputeReport).libraries) {
    console.log(
      `[library-tiers] ${l.library}: ${l.count} ranked${l.unchanged ? ', unchanged' : `, ${l.retagged} re-tagged`}: each image's aesthetic-library-tier tag says where it stands among them (summary s3://${stack.bucket}/results/${l.library}.mmlq-library.json)`,
    );
  }
}

if (!flags.noSeed) {
  const code = await seed(started, config.seedDir);
  if (flags.once) await exit(code);
}

// WordPress here runs with DISABLE_WP_CRON: deliver the plugin's queued webhooks every 2 s.
if (wp) {
  const site = wp;
  let running = false;
  cronTimer = setInterval(() => {
    if (running) return;
    running = true;
    site
      .runCron()
      .catch((error: unknown) => console.error(`[wordpress] cron: ${(error as Error).message}`))
      .finally(() => {
        running = false;
      });
  }, 2000).unref();
}

const drop = join(dataDir, 'drop');
await mkdir(drop, { recursive: true });
dropWatcher = await watchDrop({
  dir: drop,
  s3: started.s3,
  bucket: started.bucket,
  uploadPrefix: started.uploadPrefix,
  suffixes: started.uploadSuffixes,
  model,
  bridge: started.bridge,
  print: (line) => console.log(`[drop] ${line}`),
});

console.log(`
mmlq-edge local stack is up (model ${model}).
  Drop images into      ${drop}
    → scored via on-upload (${config.concurrency} at a time); each score is printed here;
      results in s3://${started.bucket}/results/uploads/<name>.json, tags on the object
  Or use S3 directly     AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \\
                         aws --endpoint-url ${started.s3Endpoint} s3 cp photo.jpg s3://${started.bucket}/${started.uploadPrefix}
  S3 objects on disk     ${join(dataDir, 's3', started.bucket)}
  HTTP API               export MMLQ_API_KEY=${apiKey.key}${config.apiKey ? '' : '   (a new key each run unless MMLQ_API_KEY is set)'}
                         curl -s -H "authorization: Bearer $MMLQ_API_KEY" ${started.apiUrl}/v1/health
                         curl -s -H "authorization: Bearer $MMLQ_API_KEY" -H 'content-type: application/octet-stream' --data-binary @photo.jpg ${started.apiUrl}/v1/scores
  Lambda endpoint        ${started.lambdaEndpoint} (functions ${started.functionName('on-upload')}, ${started.functionName('scorer')})
  Whole bucket           S3 Batch Operations stand-in ${started.batchOperationsEndpoint}: score what is already under a prefix
                         AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER npx tsx layers/core/src/cli/bin.ts bucket backfill \\
                           --bucket ${started.bucket} --prefix ${started.uploadPrefix} --account-id 000000000000 --watch \\
                           --function ${started.functionName('backfill')} --role local \\
                           --endpoint ${started.batchOperationsEndpoint} --s3-endpoint ${started.s3Endpoint}
  Failed deliveries      s3://${started.bucket}/${started.deadLetters.prefix} (or ${started.deadLetters.dir} when S3 failed)
                         npm run redrive   re-sends them${
                           wp
                             ? `
  WordPress              ${wp.url}/wp-admin/ (user ${wp.admin.user}, password ${wp.admin.password})
    → Media → Add New; the "Aesthetic" column fills in within seconds (plugin → ${started.apiUrl}/v1/wordpress/webhook)`
                             : `
  WordPress too          npm start -- --wordpress   (a real WordPress with the plugin; docs/WORDPRESS.md)`
                         }
Ctrl-C stops it.`);
