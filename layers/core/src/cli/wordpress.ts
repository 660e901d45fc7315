/**
 * `mmlq-edge wordpress backfill`: the command around runBackfill (backfill.ts): the site and the
 * application password checked before anything is scored, the state file, the rate limit, the progress
 * bar or plain lines, and the summary.
 *
 * The application password is read from a file (trimmed) and never printed; it travels only to the
 * site given with --site, which must be https:// unless --allow-insecure-local names a site on this
 * machine (loopback), where plain http is allowed and images are fetched from loopback.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { fetchImage } from '../clients/safe-fetch.ts';
import { WordPressSite } from '../clients/wordpress.ts';
import type { Aspect } from '../common/aspects.ts';
import { EdgeError, InvalidArgumentError } from '../common/errors.ts';
import { sleep } from '../common/time.ts';
import { parseJsonText } from '../common/validate.ts';
import { DEFAULT_LIMITS } from '../model/image.ts';
import { parseThresholds } from '../model/scores.ts';
import {
  type BackfillMode,
  type BackfillState,
  type BackfillSummary,
  type ProgressEvent,
  rateLimiter,
  runBackfill,
  type StateStore,
} from './backfill.ts';
import type { Io } from './io.ts';
import { createScorer, type ModelFlags } from './model-flags.ts';

/** The plugin's capability that writes scores (plugins/wordpress/mmlq-edge/includes/roles.php). */
export const SCORE_CAPABILITY = 'mmlq_edge_write_scores';
/** The plugin's REST namespace: present when the plugin (and so its meta and taxonomy) is active. */
const PLUGIN_NAMESPACE = 'mmlq-edge/v1';
const REST_TIMEOUT_MS = 30_000;
const IMAGE_TIMEOUT_MS = 30_000;

export interface BackfillFlags extends ModelFlags {
  site: string;
  user: string;
  appPasswordFile: string;
  all?: boolean;
  unscored?: boolean;
  rate: number;
  retries: number;
  limit?: number;
  state?: string;
  restart?: boolean;
  pageSize: number;
  imageOrigin?: string[];
  allowInsecureLocal?: boolean;
  progress: boolean;
  json?: boolean;
  /** Aspects whose best crop is stored with each score (the plugin's crop_aspects). */
  crop?: Aspect[];
}

export type BackfillIo = Io;

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** The site's URL, checked: https, or http on loopback with --allow-insecure-local. */
export function checkSiteUrl(raw: string, allowInsecureLocal: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(
      `Expected --site to be a URL like https://example.com/ but received ${JSON.stringify(raw)}`,
    );
  }
  if (url.username || url.password) {
    throw new InvalidArgumentError(
      'Expected --site without user:password@ (use --user and --app-password-file)',
    );
  }
  if (url.search || url.hash) {
    throw new InvalidArgumentError(
      `Expected --site without a query or fragment but received ${JSON.stringify(raw)}`,
    );
  }
  const local = LOOPBACK.test(url.hostname);
  if (allowInsecureLocal && !local) {
    throw new InvalidArgumentError(
      `--allow-insecure-local is for a site on this machine (localhost, 127.0.0.1, [::1]) but --site names ${url.hostname}`,
    );
  }
  if (url.protocol === 'http:' && !allowInsecureLocal) {
    throw new InvalidArgumentError(
      `Expected an https:// --site (the application password is sent with every request) but received ${url.origin}; for a site on this machine add --allow-insecure-local`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidArgumentError(`Expected an https:// --site but received the scheme ${url.protocol}`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** Origins images may be downloaded from besides the site's own (a CDN): exact scheme://host[:port]. */
export function checkImageOrigins(values: readonly string[], allowInsecureLocal: boolean): string[] {
  return values.map((value) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || url.origin !== value.replace(/\/$/, '') || !/^https?:$/.test(url.protocol)) {
      throw new InvalidArgumentError(
        `Expected --image-origin to be an origin like https://cdn.example.com (no path) but received ${JSON.stringify(value)}`,
      );
    }
    if (url.protocol === 'http:' && !(allowInsecureLocal && LOOPBACK.test(url.hostname))) {
      throw new InvalidArgumentError(`Expected an https:// --image-origin but received ${url.origin}`);
    }
    return url.origin;
  });
}

/** The application password: the file's content, trimmed; its content never appears in a message. */
export async function readAppPassword(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected --app-password-file ${path} to be a readable file: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  const password = text.trim();
  if (!password)
    throw new InvalidArgumentError(`Expected an application password in ${path} but the file is empty`);
  if (/[\r\n]/.test(password)) {
    throw new InvalidArgumentError(
      `Expected one line (the application password) in ${path} but it has several`,
    );
  }
  return password;
}

/** The user's cache folder: XDG_CACHE_HOME, ~/Library/Caches on macOS, LOCALAPPDATA on Windows, ~/.cache. */
export function cacheDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string {
  if (env['XDG_CACHE_HOME']) return env['XDG_CACHE_HOME'];
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches');
  if (platform === 'win32' && env['LOCALAPPDATA']) return env['LOCALAPPDATA'];
  return join(homedir(), '.cache');
}

/** Default state file of a backfill: one per site, user, mode and model. */
export function defaultStatePath(
  env: NodeJS.ProcessEnv,
  site: string,
  user: string,
  mode: BackfillMode,
  model: string,
): string {
  const origin = new URL(site);
  const id = createHash('sha256')
    .update(`${origin.href}\n${user}\n${mode}\n${model}`)
    .digest('hex')
    .slice(0, 16);
  return join(cacheDir(env), 'mmlq-edge', 'backfill', `${origin.hostname}-${id}.json`);
}

/**
 * The state in a JSON file, written whole to a temporary file then renamed (a crash leaves the old or
 * the new state, never half of one). A file of another site, user, mode or model is refused.
 */
export function fileStateStore(
  path: string,
  expect: Pick<BackfillState, 'site' | 'user' | 'mode' | 'model'>,
): StateStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new InvalidArgumentError(
          `Expected the state file ${path} to be readable: ${(error as Error).message}`,
        );
      }
      const state = parseJsonText(
        text,
        `Expected the state file ${path} to hold JSON`,
      ) as Partial<BackfillState>;
      const valid =
        state?.version === 1 &&
        Number.isInteger(state.lastId) &&
        Number.isInteger(state.position) &&
        Array.isArray(state.failed);
      if (!valid) {
        throw new InvalidArgumentError(
          `Expected ${path} to be a backfill state file (version 1); remove it or pass --restart`,
        );
      }
      for (const field of ['site', 'user', 'mode', 'model'] as const) {
        if (state[field] !== expect[field]) {
          throw new InvalidArgumentError(
            `The state file ${path} belongs to another backfill (${field} ${JSON.stringify(state[field])}, this one ${JSON.stringify(expect[field])}); pass another --state or --restart`,
          );
        }
      }
      return state as BackfillState;
    },
    async save(state) {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, path);
    },
    async clear() {
      await rm(path, { force: true });
    },
  };
}

function formatSummary(
  summary: BackfillSummary,
  site: string,
  model: string,
  seconds: number,
  statePath: string,
): string {
  const lines = [
    `${summary.scored} scored, ${summary.rejected} rejected, ${summary.skipped} skipped, ${summary.failed.length} failed` +
      `${summary.gone ? `, ${summary.gone} gone` : ''} of ${summary.total} images on ${site}, model ${model}, ${seconds.toFixed(1)} s`,
  ];
  if (summary.rejected)
    lines.push(
      'rejected: the image could not be scored; its error is stored in mmlq_error, as wp-webhook does',
    );
  if (summary.failed.length) {
    lines.push(`failed (${summary.failed.length}), retried first by the next run:`);
    for (const f of summary.failed) lines.push(`  #${f.id}  ${f.code}  ${f.message}`);
  }
  if (summary.interrupted)
    lines.push(`interrupted: run the same command again to continue (state: ${statePath})`);
  else if (summary.limited)
    lines.push(`stopped at --limit: run the same command again to continue (state: ${statePath})`);
  return `${lines.join('\n')}\n`;
}

/** Exit code: 0 done (or stopped at --limit), 1 some images failed, 130 interrupted. */
export function exitCodeOf(summary: BackfillSummary): number {
  if (summary.failed.length) return 1;
  if (summary.interrupted) return 130;
  return 0;
}

export async function backfill(flags: BackfillFlags, io: BackfillIo): Promise<number> {
  if (flags.all && flags.unscored) throw new InvalidArgumentError('Choose one of --all or --unscored');
  const mode: BackfillMode = flags.all ? 'all' : 'unscored';
  const insecureLocal = Boolean(flags.allowInsecureLocal);
  const siteUrl = checkSiteUrl(flags.site, insecureLocal);
  const imageOrigins = [siteUrl.origin, ...checkImageOrigins(flags.imageOrigin ?? [], insecureLocal)];
  if (!flags.user.trim()) throw new InvalidArgumentError('Expected --user to name the WordPress user');
  const appPassword = await readAppPassword(resolve(io.cwd, flags.appPasswordFile));
  const tiers = flags.tiers ? parseThresholds(flags.tiers) : undefined;

  const throttle = rateLimiter(flags.rate, sleep);
  const site = new WordPressSite({
    siteUrl: siteUrl.href,
    user: flags.user,
    appPassword,
    timeoutMs: REST_TIMEOUT_MS,
    beforeRequest: throttle,
  });
  const index = await site.describe();
  if (!index.namespaces.includes(PLUGIN_NAMESPACE)) {
    throw new EdgeError(
      'WORDPRESS_FAILED',
      `The MMLQ Edge plugin is not active on ${siteUrl.origin} (its REST namespace ${PLUGIN_NAMESPACE} is missing): without it WordPress does not store the scores`,
    );
  }
  const me = await site.currentUser();
  if (!me.capabilities.has(SCORE_CAPABILITY)) {
    throw new EdgeError(
      'WORDPRESS_FAILED',
      `The user ${me.slug || flags.user} (roles: ${me.roles.join(', ') || 'none'}) may not write scores on ${siteUrl.origin}: give them the role "MMLQ Edge scorer" (or use an administrator's application password); the capability ${SCORE_CAPABILITY} is missing`,
    );
  }

  const started = performance.now();
  const scorer = await createScorer(flags, tiers, io);
  const info = scorer.modelInfo;
  const model = `${info.name}@${info.version}`;
  const statePath = flags.state
    ? resolve(io.cwd, flags.state)
    : defaultStatePath(io.env, siteUrl.href, flags.user, mode, model);
  const store = fileStateStore(statePath, {
    site: new URL(index.home).origin,
    user: flags.user,
    mode,
    model,
  });

  const bar =
    flags.progress && io.interactive
      ? new SingleBar({
          format: 'backfill [{bar}] {value}/{total} {eta_formatted} left  #{id} {status}',
          stream: process.stderr,
          hideCursor: true,
        })
      : undefined;
  let barStarted = false;
  const onProgress = (e: ProgressEvent) => {
    if (bar) {
      if (!barStarted) {
        bar.start(e.total, e.done, { id: e.id, status: e.status });
        barStarted = true;
      }
      bar.setTotal(Math.max(e.total, e.done));
      bar.update(e.done, { id: e.id, status: e.status });
    } else if (flags.progress) {
      io.stderr(`${e.done}/${e.total}  #${e.id}  ${e.status}${e.detail ? `  ${e.detail}` : ''}\n`);
    }
  };
  const interrupts = io.interrupts?.();
  try {
    const summary = await runBackfill(
      {
        mode,
        batchSize: flags.batchSize,
        pageSize: flags.pageSize,
        limit: flags.limit,
        restart: Boolean(flags.restart),
        crops: (flags.crop ?? []).map((a) => a.text),
      },
      {
        site,
        home: index.home,
        user: flags.user,
        download: async (url) => {
          await throttle();
          const fetched = await fetchImage(url, {
            allowedOrigins: imageOrigins,
            allowPrivateNetworks: insecureLocal,
            maxRedirects: 3,
            timeoutMs: IMAGE_TIMEOUT_MS,
            maxBytes: DEFAULT_LIMITS.maxBytes,
          });
          return fetched.bytes;
        },
        score: (requests) => scorer.scoreMany(requests),
        model: { name: info.name, version: info.version, multimodal: info.multimodal },
        state: store,
        retry: {
          retries: flags.retries,
          sleep,
          onRetry: (what, attempt, waitMs, error) =>
            io.stderr(
              `retry ${attempt}/${flags.retries} of ${what} in ${(waitMs / 1000).toFixed(1)} s: ${(error as Error).message}\n`,
            ),
        },
        ...(interrupts ? { signal: interrupts.signal } : {}),
        onProgress,
      },
    );
    bar?.stop();
    const seconds = (performance.now() - started) / 1000;
    if (flags.json) {
      io.stdout(
        `${JSON.stringify({ site: siteUrl.origin, model, mode, state: statePath, ...summary, seconds: Number(seconds.toFixed(1)) }, null, 2)}\n`,
      );
    } else {
      io.stdout(formatSummary(summary, siteUrl.origin, model, seconds, statePath));
    }
    return exitCodeOf(summary);
  } finally {
    bar?.stop();
    interrupts?.dispose();
  }
}
