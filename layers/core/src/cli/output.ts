/**
 * Report formats of the CLI: a ranked plain-text table, JSON and CSV. Scored images are ranked by score
 * (best first); images that failed follow with their error code and message.
 */
import { stringify } from 'csv-stringify/sync';
import type { CropBox } from '../model/crop.ts';
import type { ScoreOutcome, ScoreResult } from '../model/scorer.ts';

/**
 * A row of a report: a scorer outcome, or a failure that is not the scorer's (the local stack reports
 * e.g. DEAD_LETTERED or TIMEOUT for an upload whose result never came).
 */
export type Outcome = ScoreOutcome | { id: string; ok: false; error: { code: string; message: string } };

export interface Ranked {
  rank: number;
  file: string;
  result: ScoreResult;
}

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
  failed: Failed[];
  /** Wall-clock time of the whole run. */
  elapsedMs: number;
}

export function buildReport(
  outcomes: readonly Outcome[],
  model: Report['model'],
  elapsedMs: number,
  top?: number,
): Report {
  const scored = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  scored.sort((a, b) => b.result.score - a.result.score || a.id.localeCompare(b.id));
  const ranked = scored
    .slice(0, top ?? scored.length)
    .map((o, i) => ({ rank: i + 1, file: o.id, result: o.result }));
  const failed = outcomes
    .filter((o): o is Extract<Outcome, { ok: false }> => !o.ok)
    .map((o) => ({ file: o.id, error: o.error }));
  return { model, ranked, scored: scored.length, failed, elapsedMs };
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
    const header = [
      '#',
      'file',
      'score',
      'std',
      'pct',
      'tier',
      'mode',
      'weakest',
      ...aspects.map((a) => `crop ${a}`),
    ];
    const rows = report.ranked.map((r) => [
      String(r.rank),
      r.file,
      r.result.score.toFixed(2),
      r.result.std.toFixed(2),
      r.result.percentile.toFixed(1),
      r.result.tier,
      r.result.mode,
      weakest(r.result.attributes),
      ...aspects.map((a) => geometry(r.result.crops?.find((c) => c.aspect === a))),
    ]);
    lines.push(pad([header, ...rows], new Set([0, 2, 3, 4])));
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
    `${report.ranked.length < report.scored ? `top ${report.ranked.length} of ${report.scored}` : report.ranked.length} ranked, ${report.failed.length} failed, model ${report.model.name}@${report.model.version} (${report.model.provider}), ${(report.elapsedMs / 1000).toFixed(1)} s`,
  );
  return `${lines.join('\n')}\n`;
}

export function formatJson(report: Report): string {
  return `${JSON.stringify(
    {
      model: report.model,
      results: report.ranked.map((r) => ({ rank: r.rank, file: r.file, ...r.result })),
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
    'tier',
    'mode',
    ...labels,
    ...cropColumns,
    'error_code',
    'error_message',
  ];
  const rows: (string | number)[][] = report.ranked.map((r) => [
    r.rank,
    r.file,
    r.result.score,
    r.result.std,
    r.result.percentile,
    r.result.tier,
    r.result.mode,
    ...labels.map((l) => r.result.attributes?.[l] ?? ''),
    ...cropCells(r),
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
      ...labels.map(() => ''),
      ...cropColumns.map(() => ''),
      f.error.code,
      f.error.message,
    ]);
  return stringify([header, ...rows]);
}
