/**
 * Library tiers on S3: tiers relative to the other images of a bucket prefix (a "library"), beside the
 * model's percentile. The model's percentile compares an image with the model's reference set, where
 * nearly every clean photo is "good" or "top"; a library tier says where it stands among this library's
 * scored images: "top" is the best `shares.top` % of them, "good" down to the best `shares.good` %,
 * "average" down to the best `shares.average` %, the rest "low" (the WordPress plugin's rule, by rank,
 * ties sharing the better place).
 *
 * No state in functions: a library's standing is computed from its stored result documents and kept in
 * one summary document beside them (`<results prefix><library>.mmlq-library.json`): the count, the
 * lowest score of each tier, and the score at each library percentile 0-100. on-upload places a new image
 * against the summary as it stands (score at or above a tier's lowest score) and tags it
 * `aesthetic-library-tier`; a recompute (a schedule, or `mmlq-edge bucket tiers`) ranks every stored
 * result again, writes the summary and re-tags the images whose library tier changed. The scores a
 * recompute read are kept in the library's index (`.mmlq-library-index.json.gz`, by result ETag), so the
 * next one reads only the results written since.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { isMissing, type ListedObject, type ObjectStore } from '../clients/s3.ts';
import { type Env, integer, value } from '../common/env.ts';
import { ConfigError } from '../common/errors.ts';
import { invalid } from '../common/validate.ts';
import type { Tier } from '../model/scores.ts';
import { modelId, type StoredResult } from './store.ts';

/** The tag that carries the library tier (the model's tier stays in `aesthetic-tier`). */
export const LIBRARY_TAG = 'aesthetic-library-tier';
/** Key suffix of a library's summary; never the key of a result document (`<key>.json`, see ignoreReason). */
export const LIBRARY_SUMMARY_SUFFIX = '.mmlq-library.json';
/**
 * Key suffix of a library's score index (gzip'd JSON: each result's ETag and score as last read), so a
 * recompute reads only the results written since; not `.json`, so never a result's key either.
 */
export const LIBRARY_INDEX_SUFFIX = '.mmlq-library-index.json.gz';

/** One result as the index keeps it: its ETag, source key and version, score (null: an error result), model. */
type IndexRow = [
  etag: string,
  key: string,
  versionId: string | null,
  score: number | null,
  model: string | null,
];
interface LibraryIndex {
  version: 1;
  /** By result key. */
  rows: Record<string, IndexRow>;
}
/** An upload named like this would have its result where a summary lives: on-upload leaves it alone. */
export const RESERVED_UPLOAD_SUFFIX = '.mmlq-library';

/** Best shares, in whole per cent: 1 ≤ top < good < average ≤ 100. */
export interface LibraryShares {
  top: number;
  good: number;
  average: number;
}

export const DEFAULT_LIBRARY_SHARES: Readonly<LibraryShares> = Object.freeze({
  top: 10,
  good: 35,
  average: 75,
});

/** Parses "top,good,average" shares ("10,35,75"); `name` names the setting in the error. */
export function parseLibraryShares(text: string, name: string): LibraryShares {
  const parts = text.split(',').map((p) => p.trim());
  const [top, good, average] = parts.map(Number);
  if (
    parts.length !== 3 ||
    ![top, good, average].every((v) => Number.isInteger(v)) ||
    !(1 <= top! && top! < good! && good! < average! && average! <= 100)
  ) {
    throw invalid(name, 'three whole per cents "top,good,average" with 1 ≤ top < good < average ≤ 100', text);
  }
  return { top: top!, good: good!, average: average! };
}

/** What on-upload and the recompute need to know of the libraries. */
export interface LibraryConfig {
  layout: LibraryLayout;
  shares: LibraryShares;
}

/**
 * LIBRARY_TIERS: "top,good,average" best shares in whole per cent (default "10,35,75"), or "off";
 * LIBRARY_DEPTH: folders below the upload prefix that make a library (default 0: one library).
 */
export function readLibraryConfig(env: Env, uploadPrefix: string): LibraryConfig | undefined {
  const v = value(env, 'LIBRARY_TIERS');
  if (v?.toLowerCase() === 'off') return undefined;
  let shares: LibraryShares = { ...DEFAULT_LIBRARY_SHARES };
  if (v !== undefined) {
    try {
      shares = parseLibraryShares(v, 'LIBRARY_TIERS');
    } catch {
      throw new ConfigError(
        `Environment variable LIBRARY_TIERS must be "off" or the best shares in whole per cent "top,good,average" with 1 <= top < good < average <= 100 (e.g. "10,35,75") but is "${v}"`,
      );
    }
  }
  return { layout: { uploadPrefix, depth: integer(env, 'LIBRARY_DEPTH', 0, 0) }, shares };
}

/** Where libraries start and how deep they go. */
export interface LibraryLayout {
  /** The upload prefix: the root library. */
  uploadPrefix: string;
  /** How many folders below the upload prefix make a library (0: the whole upload prefix is one). */
  depth: number;
}

/**
 * The library of an object key: the upload prefix and up to `depth` folders below it
 * (`uploads/` + depth 1: `uploads/a/b/c.jpg` → `uploads/a/`, `uploads/c.jpg` → `uploads/`).
 */
export function libraryOf(key: string, layout: LibraryLayout): string {
  const rest = key.slice(layout.uploadPrefix.length).split('/');
  const folders = rest.slice(0, -1).slice(0, layout.depth);
  return layout.uploadPrefix + folders.map((f) => `${f}/`).join('');
}

/**
 * The library tier of the image ranked `above + 1` of `n` (`above`: how many score strictly higher):
 * "top" when within the best `top` % (rounded to whole images, at least the best one), and so on.
 */
export function libraryTierOf(above: number, n: number, shares: LibraryShares): Tier {
  const rank = above + 1;
  if (rank <= Math.max(1, Math.round((n * shares.top) / 100))) return 'top';
  if (rank <= Math.round((n * shares.good) / 100)) return 'good';
  if (rank <= Math.round((n * shares.average) / 100)) return 'average';
  return 'low';
}

/** The share of the library an image scores at least as well as, 0-100, one decimal (best: 100). */
export const libraryPercentile = (above: number, n: number): number =>
  Math.round((1000 * (n - above)) / n) / 10;

/**
 * Where each of `scores` stands among them (one request's batch, a folder on the command line): its
 * percentile and tier by the library rule, in input order.
 */
export function standingWithin(
  scores: readonly number[],
  shares: LibraryShares = DEFAULT_LIBRARY_SHARES,
): { percentile: number; tier: Tier }[] {
  const { ranked } = rankLibrary(
    scores.map((score, i) => ({ key: String(i), score, model: '' })),
    shares,
  );
  const out: { percentile: number; tier: Tier }[] = new Array(scores.length);
  for (const r of ranked) out[Number(r.entry.key)] = { percentile: r.percentile, tier: r.tier };
  return out;
}

/** A library's standing, as a recompute left it. */
export interface LibrarySummary {
  bucket: string;
  library: string;
  /** Scored images ranked (error results do not count, nor images deleted since they were scored). */
  count: number;
  /** Results kept whose image is no longer in the bucket (deleted since scored): not ranked. */
  orphaned: number;
  shares: LibraryShares;
  /** The lowest score in each tier (absent: the tier is empty). */
  cutoffs: Partial<Record<Exclude<Tier, 'low'>, number>>;
  /** percentiles[p]: the lowest score at library percentile ≥ p (p = 0..100); empty when count is 0. */
  percentiles: number[];
  /** The models whose scores were ranked (`name@version`), with their counts. */
  models: Record<string, number>;
  /**
   * sha256 of the listing it was computed from (key and ETag of each result, and whether its image is
   * still there): unchanged → nothing to do.
   */
  fingerprint: string;
  computedAt: string;
  /** False while the images of a new summary are being re-tagged (a stopped recompute redoes them all). */
  retagged: boolean;
}

/** A scored image of a library. */
export interface LibraryEntry {
  key: string;
  versionId?: string | undefined;
  score: number;
  model: string;
}

/** Ranks the entries (best first, ties sharing the better place): each one's tier and percentile. */
export function rankLibrary(
  entries: readonly LibraryEntry[],
  shares: LibraryShares,
): {
  ranked: { entry: LibraryEntry; tier: Tier; percentile: number }[];
  cutoffs: LibrarySummary['cutoffs'];
  percentiles: number[];
} {
  const sorted = [...entries].sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : 1));
  const n = sorted.length;
  let above = 0;
  const ranked = sorted.map((entry, i) => {
    if (i > 0 && entry.score < sorted[i - 1]!.score) above = i;
    return { entry, tier: libraryTierOf(above, n, shares), percentile: libraryPercentile(above, n) };
  });
  const cutoffs: LibrarySummary['cutoffs'] = {};
  for (const r of ranked) if (r.tier !== 'low') cutoffs[r.tier] = r.entry.score;
  // percentiles[p]: the lowest score whose percentile is still ≥ p (ranked is by falling percentile).
  const percentiles: number[] = [];
  if (n) {
    let j = 0;
    for (let p = 100; p >= 0; p--) {
      while (j + 1 < n && ranked[j + 1]!.percentile >= p) j++;
      percentiles[p] = ranked[j]!.entry.score;
    }
  }
  return { ranked, cutoffs, percentiles };
}

/**
 * What to say of a library whose ranking mixes model versions (undefined when it is one model): after
 * a model change the new uploads' scores sit beside the old model's until the library is rescored, and
 * two models' scores are not on one scale.
 */
export function mixedModels(models: Record<string, number>): string | undefined {
  const names = Object.entries(models).sort(([a, m], [b, n]) => n - m || (a < b ? -1 : 1));
  if (names.length < 2) return undefined;
  return `scores of ${names.length} model versions ranked together (${names.map(([name, n]) => `${name}: ${n}`).join(', ')}); rescore the library with one model (mmlq-edge bucket backfill) for one scale`;
}

/** Where a score lands in a library as its summary stands: its tier, or undefined before any summary. */
export function placeInLibrary(score: number, summary: LibrarySummary | undefined): Tier | undefined {
  if (!summary || summary.count === 0) return undefined;
  for (const tier of ['top', 'good', 'average'] as const) {
    const lowest = summary.cutoffs[tier];
    if (lowest !== undefined && score >= lowest) return tier;
  }
  return 'low';
}

export class LibraryStore {
  constructor(
    private readonly objects: ObjectStore,
    readonly resultsPrefix: string,
    readonly layout: LibraryLayout,
  ) {}

  summaryRef(bucket: string, library: string) {
    return { bucket, key: `${this.resultsPrefix}${library}${LIBRARY_SUMMARY_SUFFIX}` };
  }

  indexRef(bucket: string, library: string) {
    return { bucket, key: `${this.resultsPrefix}${library}${LIBRARY_INDEX_SUFFIX}` };
  }

  /** The upload a result document is of (`results/<upload key>.json`). */
  private sourceOf(resultKey: string): string {
    return resultKey.slice(this.resultsPrefix.length, -'.json'.length);
  }

  private async readIndex(bucket: string, library: string): Promise<LibraryIndex['rows']> {
    const bytes = await this.objects.getBytes(this.indexRef(bucket, library));
    if (!bytes) return {};
    try {
      const index = JSON.parse(gunzipSync(bytes).toString('utf8')) as LibraryIndex;
      return index.version === 1 && index.rows ? index.rows : {};
    } catch {
      return {}; // unreadable: read every result again (and write a good one)
    }
  }

  /** The summary of the library of `key`, or undefined when none was computed yet. */
  summaryFor(bucket: string, key: string): Promise<LibrarySummary | undefined> {
    return this.objects.getJson<LibrarySummary>(this.summaryRef(bucket, libraryOf(key, this.layout)));
  }

  /**
   * Ranks every library under `within` (default: the upload prefix) again from its stored results:
   * writes each changed library's summary and re-tags the images whose library tier changed. A library
   * whose results are as its summary saw them is left alone unless `full`. Stoppable and restartable at
   * any point: a summary marks itself re-tagged only after its images are.
   */
  async recompute(
    bucket: string,
    options: {
      shares: LibraryShares;
      within?: string;
      full?: boolean;
      concurrency?: number;
      now?: () => Date;
      onProgress?: (p: RecomputeProgress) => void;
    },
  ): Promise<RecomputeReport> {
    const within = options.within ?? this.layout.uploadPrefix;
    if (!within.startsWith(this.layout.uploadPrefix) || libraryOf(`${within}x`, this.layout) !== within) {
      // A prefix inside a library would rank part of it: libraries are ranked whole.
      throw invalid(
        'prefix',
        `the upload prefix "${this.layout.uploadPrefix}" or a folder of it at most ${this.layout.depth} deep (a library)`,
        within,
      );
    }
    const progress: RecomputeProgress = { listed: 0, read: 0, toRead: 0, retagged: 0, libraries: 0 };
    // The images themselves: a result whose image was deleted since it was scored is kept, not ranked.
    const present = new Set<string>();
    for await (const page of this.objects.list(bucket, within)) {
      for (const o of page) present.add(o.key);
    }
    const listings = new Map<string, ListedObject[]>();
    for await (const page of this.objects.list(bucket, this.resultsPrefix + within)) {
      for (const o of page) {
        if (!o.key.endsWith('.json') || o.key.endsWith(LIBRARY_SUMMARY_SUFFIX)) continue;
        const source = this.sourceOf(o.key);
        if (!source.startsWith(this.layout.uploadPrefix)) continue;
        const library = libraryOf(source, this.layout);
        const listed = listings.get(library);
        if (listed) listed.push(o);
        else listings.set(library, [o]);
        progress.listed++;
      }
      options.onProgress?.(progress);
    }
    const report: RecomputeReport = { libraries: [] };
    const now = options.now ?? (() => new Date());
    for (const [library, listed] of [...listings].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const fingerprint = fingerprintOf(listed, options.shares, (o) => present.has(this.sourceOf(o.key)));
      const previous = await this.objects.getJson<LibrarySummary>(this.summaryRef(bucket, library));
      if (!options.full && previous?.fingerprint === fingerprint && previous.retagged) {
        report.libraries.push({
          library,
          count: previous.count,
          read: 0,
          retagged: 0,
          gone: 0,
          orphaned: previous.orphaned ?? 0,
          unchanged: true,
          models: previous.models ?? {},
        });
        continue;
      }
      // Results whose ETag the index has are not read again (unless `full`).
      const known = options.full ? {} : await this.readIndex(bucket, library);
      const rows: LibraryIndex['rows'] = {};
      const toRead: ListedObject[] = [];
      for (const o of listed) {
        const row = known[o.key];
        if (row && row[0] === o.etag) rows[o.key] = row;
        else toRead.push(o);
      }
      progress.toRead += toRead.length;
      await mapLimited(toRead, options.concurrency ?? 16, async (o) => {
        const doc = await this.objects.getJson<StoredResult>({ bucket, key: o.key });
        progress.read++;
        options.onProgress?.(progress);
        if (!doc) return; // deleted since the listing
        rows[o.key] = [
          o.etag,
          doc.source.key,
          doc.source.versionId ?? null,
          doc.ok ? doc.result.score : null,
          doc.ok ? modelId(doc.model) : null,
        ];
      });
      let orphaned = 0;
      const entries: LibraryEntry[] = Object.values(rows).flatMap(([, key, versionId, score, model]) => {
        if (!present.has(key)) {
          orphaned++;
          return [];
        }
        return score === null || model === null
          ? []
          : [{ key, score, model, ...(versionId ? { versionId } : {}) }];
      });
      const { ranked, cutoffs, percentiles } = rankLibrary(entries, options.shares);
      const models: Record<string, number> = {};
      for (const e of entries) models[e.model] = (models[e.model] ?? 0) + 1;
      const summary: LibrarySummary = {
        bucket,
        library,
        count: entries.length,
        orphaned,
        shares: { ...options.shares },
        cutoffs,
        percentiles,
        models,
        fingerprint,
        computedAt: now().toISOString(),
        retagged: false,
      };
      // The new standing first (uploads from now on are placed against it), then the images whose tier
      // under the old one differs; all of them when the old one was never finished (or `full`).
      const ref = this.summaryRef(bucket, library);
      await this.objects.put(
        this.indexRef(bucket, library),
        gzipSync(JSON.stringify({ version: 1, rows } satisfies LibraryIndex)),
        'application/gzip',
      );
      await this.objects.putJson(ref, summary);
      const redoAll = options.full || !previous?.retagged;
      const changed = ranked.filter((r) => redoAll || placeInLibrary(r.entry.score, previous) !== r.tier);
      let gone = 0;
      await mapLimited(changed, options.concurrency ?? 16, async (r) => {
        try {
          await this.objects.mergeTags(
            { bucket, key: r.entry.key, versionId: r.entry.versionId },
            { [LIBRARY_TAG]: r.tier },
            LIBRARY_TAG,
          );
        } catch (error) {
          // Deleted since it was scored (its result stays): nothing to tag.
          if (!isMissing(error)) throw error;
          gone++;
        }
        progress.retagged++;
        options.onProgress?.(progress);
      });
      await this.objects.putJson(ref, { ...summary, retagged: true });
      progress.libraries++;
      report.libraries.push({
        library,
        count: entries.length,
        read: toRead.length,
        retagged: changed.length - gone,
        gone,
        orphaned,
        unchanged: false,
        models,
      });
    }
    return report;
  }
}

export interface RecomputeProgress {
  /** Result documents listed so far. */
  listed: number;
  /** Result documents of changed libraries not in their index: read so far, and how many to read. */
  read: number;
  toRead: number;
  /** Images re-tagged so far. */
  retagged: number;
  /** Libraries finished. */
  libraries: number;
}

export interface RecomputeReport {
  /**
   * Per library: images ranked, result documents read this time (the others' scores came from the
   * index), images re-tagged, not there to tag (deleted between the listing and the tagging), results
   * left out of the ranking because their image is gone (kept), or nothing changed at all; and the
   * models whose scores were ranked (`name@version`: count), more than one after a model change until
   * the library is rescored.
   */
  libraries: {
    library: string;
    count: number;
    read: number;
    retagged: number;
    gone: number;
    orphaned: number;
    unchanged: boolean;
    models: Record<string, number>;
  }[];
}

function fingerprintOf(
  listed: readonly ListedObject[],
  shares: LibraryShares,
  imageThere: (o: ListedObject) => boolean,
): string {
  const h = createHash('sha256').update(`${shares.top},${shares.good},${shares.average}\n`);
  for (const o of listed) h.update(`${o.key} ${o.etag}${imageThere(o) ? '' : ' gone'}\n`);
  return h.digest('hex');
}

/** `fn` over `items` with at most `limit` running at once; results in order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
