/**
 * Report formats of the CLI: a ranked plain-text table, JSON and CSV. Scored images are ranked by score
 * (best first); images that failed follow with their error code and message.
 */
import { stringify } from 'csv-stringify/sync';
import type { CropBox } from '../model/crop.ts';
import { hammingDistance } from '../model/image.ts';
import type { ScoreOutcome, ScoreResult } from '../model/scorer.ts';
import { standingWithin } from '../results/library.ts';

/**
 * A row of a report: a scorer outcome, or a failure that is not the scorer's (the local stack reports
 * e.g. DEAD_LETTERED or TIMEOUT for an upload whose result never came).
 */
export type Outcome = ScoreOutcome | { id: string; ok: false; error: { code: string; message: string } };

export interface Ranked {
  rank: number;
  file: string;
  result: ScoreResult;
  /**
   * The image's place among this run's scored images (all of them, also with --top): the share of them
   * it scores at least as well as, 0-100, one decimal (the best is 100; ties share the better place).
   * The model's percentile (result.percentile) compares it with the model's reference set instead.
   */
  batchPercentile: number;
  /**
   * The better-ranked image this one is a near-duplicate of (the same photo at another size, encoding or
   * orientation: perceptual hashes within SAME_PHOTO_BITS, docs/API.md "Near-duplicates").
   */
  sameAs?: string;
}

/** The near-duplicate rule of docs/API.md (and of the WordPress hero panel): at most 10 bits apart. */
export const SAME_PHOTO_BITS = 10;

export interface Failed {
  file: string;
  error: { code: string; message: string };
}

export interface Report {
  model: { name: string; version: string; provider: string };
  /** The best `top` (or all) of the scored images. */
  ranked: Ranked[];
  /** How many images scored (ranked.length unless --top cut the list). */
  scored: number;
  /** Whether near-duplicates were looked for (--distinct): the table and CSV then say which. */
  distinct: boolean;
  /** Near-duplicates --top left out with --distinct (it counts distinct photos); otherwise 0. */
  duplicatesLeftOut: number;
  failed: Failed[];
  /** Wall-clock time of the whole run. */
  elapsedMs: number;
}

/**
 * Ranks the scored images best first, the best `top` of them (or all). With `distinct`, each image that is
 * a near-duplicate of a better-ranked one is marked `sameAs` it and `top` counts distinct photos (a
 * near-duplicate of one already in is left out).
 */
export function buildReport(
  outcomes: readonly Outcome[],
  model: Report['model'],
  elapsedMs: number,
  top?: number,
  distinct = false,
): Report {
  const scored = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  scored.sort((a, b) => b.result.score - a.result.score || a.id.localeCompare(b.id));
  // The library rule's percentile among this run's scored images, as the API's `batch`.
  const standing = standingWithin(scored.map((o) => o.result.score));
  const all: Ranked[] = [];
  const leaders: { file: string; phash: string }[] = [];
  for (const [i, o] of scored.entries()) {
    let leader: { file: string } | undefined;
    if (distinct) {
      const phash = o.result.image.phash;
      leader = leaders.find((l) => hammingDistance(l.phash, phash) <= SAME_PHOTO_BITS);
      if (!leader) leaders.push({ file: o.id, phash });
    }
    all.push({
      rank: i + 1,
      file: o.id,
      result: o.result,
      batchPercentile: standing[i]!.percentile,
      ...(leader ? { sameAs: leader.file } : {}),
    });
  }
  let ranked = all;
  let duplicatesLeftOut = 0;
  if (top !== undefined) {
    if (!distinct) ranked = all.slice(0, top);
    else {
      ranked = [];
      for (const r of all) {
        if (ranked.length === top) break;
        if (r.sameAs === undefined) ranked.push(r);
        else duplicatesLeftOut++;
      }
    }
  }
  const failed = outcomes
    .filter((o): o is Extract<Outcome, { ok: false }> => !o.ok)
    .map((o) => ({ file: o.id, error: o.error }));
  return { model, ranked, scored: scored.length, distinct, duplicatesLeftOut, failed, elapsedMs };
}

/** The attribute furthest from "no defect", when it is clearly below (the "why" of a low score). */
export function weakest(attributes: Record<string, number> | undefined, below = 0.9): string {
  if (!attributes) return '';
  let worst: [string, number] | undefined;
  for (const entry of Object.entries(attributes)) if (!worst || entry[1] < worst[1]) worst = entry;
  return worst && worst[1] < below ? `${worst[0]} ${worst[1].toFixed(2)}` : '';
}

function pad(cells: string[][], rightAligned: Set<number>): string {
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells
    .map((row) =>
      row
        .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The crop aspects a report carries, in the order first seen. */
function cropAspectsOf(report: Report): string[] {
  return [...new Set(report.ranked.flatMap((r) => (r.result.crops ?? []).map((c) => c.aspect)))];
}

/** A crop box as WxH+left+top (ImageMagick's geometry), or nothing. */
function geometry(crop: CropBox | undefined): string {
  return crop ? `${crop.width}x${crop.height}+${crop.left}+${crop.top}` : '';
}

const CROP_FIELDS = ['left', 'top', 'width', 'height', 'score'] as const;

export function formatTable(report: Report): string {
  const lines: string[] = [];
  if (report.ranked.length) {
    const aspects = cropAspectsOf(report);
    const dupes = report.distinct;
    const header = [
      '#',
      'file',
      'score',
      'std',
      'model pct',
      'batch pct',
      'tier',
      'mode',
      'weakest',
      ...aspects.map((a) => `crop ${a}`),
      ...(dupes ? ['same photo as'] : []),
    ];
    const rows = report.ranked.map((r) => [
      String(r.rank),
      r.file,
      r.result.score.toFixed(2),
      r.result.std.toFixed(2),
      r.result.percentile.toFixed(1),
      r.batchPercentile.toFixed(1),
      r.result.tier,
      r.result.mode,
      weakest(r.result.attributes),
      ...aspects.map((a) => geometry(r.result.crops?.find((c) => c.aspect === a))),
      ...(dupes ? [r.sameAs ?? ''] : []),
    ]);
    lines.push(pad([header, ...rows], new Set([0, 2, 3, 4, 5])));
  }
  if (report.failed.length) {
    if (lines.length) lines.push('');
    lines.push(`failed (${report.failed.length}):`);
    lines.push(
      pad(
        report.failed.map((f) => [f.file, f.error.code, f.error.message]),
        new Set(),
      ),
    );
  }
  lines.push('');
  lines.push(
    `${report.ranked.length < report.scored ? `top ${report.ranked.length} of ${report.scored}` : report.ranked.length} ranked${report.duplicatesLeftOut ? ` (${report.duplicatesLeftOut} near-duplicate${report.duplicatesLeftOut === 1 ? '' : 's'} of these left out)` : ''}, ${report.failed.length} failed, model ${report.model.name}@${report.model.version} (${report.model.provider}), ${(report.elapsedMs / 1000).toFixed(1)} s`,
  );
  return `${lines.join('\n')}\n`;
}

export function formatJson(report: Report): string {
  return `${JSON.stringify(
    {
      model: report.model,
      results: report.ranked.map((r) => ({
        rank: r.rank,
        file: r.file,
        ...r.result,
        batchPercentile: r.batchPercentile,
        ...(r.sameAs !== undefined ? { sameAs: r.sameAs } : {}),
      })),
      ...(report.duplicatesLeftOut ? { duplicatesLeftOut: report.duplicatesLeftOut } : {}),
      errors: report.failed.map((f) => ({ file: f.file, ...f.error })),
      elapsedMs: Math.round(report.elapsedMs),
    },
    null,
    2,
  )}\n`;
}

export function formatCsv(report: Report): string {
  const labels = [...new Set(report.ranked.flatMap((r) => Object.keys(r.result.attributes ?? {})))];
  // One column per aspect and field: crop_16x9_left, crop_16x9_top, ... crop_16x9_score.
  const aspects = cropAspectsOf(report);
  const cropColumns = aspects.flatMap((a) => CROP_FIELDS.map((f) => `crop_${a.replace(':', 'x')}_${f}`));
  const cropCells = (r: Ranked) =>
    aspects.flatMap((a) => {
      const crop = r.result.crops?.find((c) => c.aspect === a);
      return CROP_FIELDS.map((f) => crop?.[f] ?? '');
    });
  const header = [
    'rank',
    'file',
    'score',
    'std',
    'percentile',
    'batch_percentile',
    'tier',
    'mode',
    ...labels,
    ...cropColumns,
    ...(report.distinct ? ['same_as'] : []),
    'error_code',
    'error_message',
  ];
  const rows: (string | number)[][] = report.ranked.map((r) => [
    r.rank,
    r.file,
    r.result.score,
    r.result.std,
    r.result.percentile,
    r.batchPercentile,
    r.result.tier,
    r.result.mode,
    ...labels.map((l) => r.result.attributes?.[l] ?? ''),
    ...cropCells(r),
    ...(report.distinct ? [r.sameAs ?? ''] : []),
    '',
    '',
  ]);
  for (const f of report.failed)
    rows.push([
      '',
      f.file,
      '',
      '',
      '',
      '',
      '',
      '',
      ...labels.map(() => ''),
      ...cropColumns.map(() => ''),
      ...(report.distinct ? [''] : []),
      f.error.code,
      f.error.message,
    ]);
  return stringify([header, ...rows]);
}
