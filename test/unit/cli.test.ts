import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandInputs } from '#core/cli/inputs.ts';
import { callerCwd } from '#core/cli/main.ts';
import { buildReport, type Outcome } from '#core/cli/output.ts';
import { unloadAll } from '#core/model/registry.ts';
import type { ScoreResult } from '#core/model/scorer.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { halves, heicBranded, patternJpeg, solid } from '../helpers/images.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

let root: string;
let images: string;
let modelsDir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mmlq-cli-'));
  modelsDir = join(root, 'models');
  await writeTinyModel(modelsDir, { name: 'tiny' });
  images = join(root, 'photos');
  await mkdir(join(images, 'nested'), { recursive: true });
  await writeFile(join(images, 'bright.png'), await solid(40, 40, { r: 230, g: 230, b: 230 }));
  await writeFile(join(images, 'dark.jpg'), await solid(40, 40, { r: 30, g: 30, b: 30 }, 'jpeg'));
  await writeFile(join(images, 'nested', 'mid.png'), await solid(40, 40, { r: 128, g: 128, b: 128 }));
  await writeFile(join(images, 'notes.md'), 'not an image, not matched by folder expansion');
});

afterAll(unloadAll);

const cli = (args: string[]) =>
  runCliCaptured(['score', '--models-dir', modelsDir, '--model', 'tiny', ...args], root);

describe('mmlq-edge score', () => {
  it('prints a ranked table, best first, and exits 0 when every image scored', async () => {
    const { code, out } = await cli(['photos']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^#\s+file\s+score\s+std\s+model pct\s+batch pct\s+tier\s+mode\s+weakest$/);
    expect(lines[1]).toMatch(
      /^1\s+photos\/bright\.png\s+\d+\.\d\d\s+\d\.\d\d\s+\d+\.\d\s+100\.0\s+(top|good|average|low)\s+image/,
    );
    expect(lines[2]).toMatch(/^2\s+photos\/nested\/mid\.png\s+\d+\.\d\d\s+\d\.\d\d\s+\d+\.\d\s+66\.7\s/);
    expect(lines[3]).toMatch(/^3\s+photos\/dark\.jpg\s+\d+\.\d\d\s+\d\.\d\d\s+\d+\.\d\s+33\.3\s/);
    expect(lines.at(-1)).toMatch(/^3 ranked, 0 failed, model tiny@1\.0\.0 \(cpu\), \d+\.\d s$/);
  });

  it('says how many of how many it ranked with --top, each with its place in the whole batch', async () => {
    const { out } = await cli(['photos', '--top', '2']);
    const lines = out.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^top 2 of 3 ranked, 0 failed, model tiny@1\.0\.0/);
    // The batch percentile is among all 3 scored images, not the 2 shown; the model's beside it.
    expect(lines[0]).toMatch(/\bmodel pct\s+batch pct\b/);
    expect(lines[1]).toMatch(/^1\s+photos\/bright\.png\s+\S+\s+\S+\s+\d+\.\d\s+100\.0\s/);
    expect(lines[2]).toMatch(/^2\s+photos\/nested\/mid\.png\s+\S+\s+\S+\s+\d+\.\d\s+66\.7\s/);
  });

  it('ranks within the batch: ties share the better place, failures do not count', () => {
    const ok = (id: string, score: number): Outcome => ({
      id,
      ok: true,
      result: { score, percentile: 80 } as ScoreResult,
    });
    const report = buildReport(
      [
        ok('a', 5),
        ok('b', 7),
        ok('c', 7),
        ok('d', 3),
        { id: 'x', ok: false, error: { code: 'IMAGE_UNSUPPORTED_FORMAT', message: 'no' } },
      ],
      { name: 'm', version: '1', provider: 'cpu' },
      0,
    );
    expect(report.ranked.map((r) => [r.file, r.batchPercentile])).toEqual([
      ['b', 100],
      ['c', 100],
      ['a', 50],
      ['d', 25],
    ]);
    expect(buildReport([ok('solo', 1)], report.model, 0).ranked[0]!.batchPercentile).toBe(100);
  });

  it('with distinct, marks near-duplicates of better-ranked images and counts distinct photos for --top', () => {
    const ok = (id: string, score: number, phash: string): Outcome => ({
      id,
      ok: true,
      result: { score, percentile: 80, image: { phash } } as ScoreResult,
    });
    const outcomes = [
      ok('a', 7, 'ffff0000ffff0000'),
      ok('a-resized', 6.5, 'ffff0000ffff03ff'), // 10 bits from a: the same photo
      ok('b', 6, 'ffff0000ffff07ff'), // 11 bits from a: another photo
      ok('b-copy', 5, 'ffff0000ffff07ff'),
      ok('c', 4, '0f0f0f0f0f0f0f0f'),
    ];
    const model = { name: 'm', version: '1', provider: 'cpu' };
    const all = buildReport(outcomes, model, 0, undefined, true);
    expect(all.ranked.map((r) => [r.file, r.sameAs])).toEqual([
      ['a', undefined],
      ['a-resized', 'a'],
      ['b', undefined],
      ['b-copy', 'b'],
      ['c', undefined],
    ]);
    const top3 = buildReport(outcomes, model, 0, 3, true);
    expect(top3.ranked.map((r) => [r.rank, r.file])).toEqual([
      [1, 'a'],
      [3, 'b'],
      [5, 'c'],
    ]);
    expect(top3.duplicatesLeftOut).toBe(2);
    // Without it, nothing is marked and --top counts images.
    const plain = buildReport(outcomes, model, 0, 3);
    expect(plain.ranked.map((r) => r.file)).toEqual(['a', 'a-resized', 'b']);
    expect(plain.ranked.some((r) => r.sameAs !== undefined)).toBe(false);
  });

  it('--distinct finds the same photo at another size and encoding through the real hash', async () => {
    await mkdir(join(root, 'dupes'), { recursive: true });
    const photo = await patternJpeg(240, 180);
    await writeFile(join(root, 'dupes', 'a-big.jpg'), photo);
    await writeFile(
      join(root, 'dupes', 'a-small.webp'),
      await sharp(photo).resize(120).webp({ quality: 60 }).toBuffer(),
    );
    await writeFile(
      join(root, 'dupes', 'b.png'),
      await halves(240, 180, { r: 250, g: 20, b: 20 }, { r: 20, g: 20, b: 250 }),
    );
    const run = await cli(['dupes', '--distinct', '--json']);
    expect(run.err).toBe('');
    const report = JSON.parse(run.out);
    const a = report.results.filter((r: { file: string }) => r.file.includes('/a-'));
    const leader = a.find((r: { sameAs?: string }) => r.sameAs === undefined);
    expect(a.map((r: { sameAs?: string }) => r.sameAs ?? null).sort()).toEqual([leader.file, null].sort());
    expect(report.results.find((r: { file: string }) => r.file === 'dupes/b.png').sameAs).toBeUndefined();
    const table = (await cli(['dupes', '--distinct'])).out;
    expect(table.split('\n')[0]).toMatch(/\bsame photo as$/);
    const top2 = JSON.parse((await cli(['dupes', '--distinct', '--top', '2', '--json'])).out);
    expect(top2.results.map((r: { file: string }) => r.file).sort()).toEqual(
      [leader.file, 'dupes/b.png'].sort(),
    );
    const csv = parse((await cli(['dupes', '--distinct', '--csv'])).out) as string[][];
    const col = csv[0]!.indexOf('same_as');
    expect(
      csv
        .slice(1)
        .map((row) => row[col])
        .filter(Boolean),
    ).toEqual([leader.file]);
  });

  it('warns on stderr about --text-map keys that match no image', async () => {
    await writeFile(
      join(root, 'partly.json'),
      JSON.stringify({ 'bright.png': 'lovely', 'photos/gone.jpg': 'x', 'typo.png': 'y' }),
    );
    const { code, err } = await cli(['photos', '--json', '--text-map', 'partly.json', '--no-sidecar']);
    expect(code).toBe(0);
    expect(err).toBe('warning: --text-map keys that match no image: photos/gone.jpg, typo.png\n');
  });

  it('keeps only the best N with --top', async () => {
    const { out } = await cli(['photos', '--top', '1', '--json']);
    const report = JSON.parse(out);
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({
      rank: 1,
      file: 'photos/bright.png',
      tier: expect.any(String),
      mode: 'image',
      percentile: expect.any(Number),
      batchPercentile: 100,
    });
  });

  it('writes JSON with results, errors and the model, and exits 1 when an image failed', async () => {
    await writeFile(join(root, 'broken.jpg'), 'definitely not a jpeg');
    const { code, out } = await cli(['photos/*.png', 'broken.jpg', '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report.model).toEqual({ name: 'tiny', version: '1.0.0', provider: 'cpu' });
    expect(report.results.map((r: { file: string }) => r.file)).toEqual(['photos/bright.png']);
    expect(report.results[0].distribution).toHaveLength(10);
    expect(report.errors).toEqual([
      {
        file: 'broken.jpg',
        code: 'IMAGE_UNSUPPORTED_FORMAT',
        message:
          'Expected an image in one of jpeg, png, webp, gif, avif, tiff but the bytes are not a recognised image',
      },
    ]);
  });

  it('writes CSV with one column per attribute and failed rows last', async () => {
    const { code, out } = await cli(['photos', 'broken.jpg', '--csv']);
    expect(code).toBe(1);
    const rows: string[][] = parse(out);
    expect(rows[0]).toEqual([
      'rank',
      'file',
      'score',
      'std',
      'percentile',
      'batch_percentile',
      'tier',
      'mode',
      'brightness',
      'constant',
      'error_code',
      'error_message',
    ]);
    expect(rows.slice(1).map((r) => r[1])).toEqual([
      'photos/bright.png',
      'photos/nested/mid.png',
      'photos/dark.jpg',
      'broken.jpg',
    ]);
    expect(Number(rows[1]![2])).toBeGreaterThan(Number(rows[3]![2]));
    expect(rows.slice(1, 4).map((r) => r[5])).toEqual(['100', '66.7', '33.3']);
    expect(rows[4]![10]).toBe('IMAGE_UNSUPPORTED_FORMAT');
  });

  describe('--crop', () => {
    // The tiny model prefers bright windows: every crop of this image belongs on its right (white) half.
    const wide = () => halves(800, 200, { r: 10, g: 10, b: 10 }, { r: 250, g: 250, b: 250 });

    it('adds the best crop per aspect to each JSON item, with the perceptual hash', async () => {
      await mkdir(join(root, 'wide'), { recursive: true });
      await writeFile(join(root, 'wide', 'halves.png'), await wide());
      const { code, out } = await cli(['wide', '--json', '--crop', '16:9,1:1']);
      expect(code).toBe(0);
      const [item] = JSON.parse(out).results;
      expect(item.image.phash).toMatch(/^[0-9a-f]{16}$/);
      expect(item.crops.map((c: { aspect: string }) => c.aspect)).toEqual(['16:9', '1:1']);
      for (const c of item.crops) {
        expect(Object.keys(c)).toEqual(['aspect', 'left', 'top', 'width', 'height', 'score']);
        expect(c.left).toBeGreaterThanOrEqual(400);
        expect(c.left + c.width).toBeLessThanOrEqual(800);
        expect(c.top + c.height).toBeLessThanOrEqual(200);
      }
    });

    it('adds CSV columns per aspect and a table column, and writes the crops with --crop-out', async () => {
      await writeFile(join(root, 'wide', 'halves.png'), await wide());
      const csv: string[][] = parse((await cli(['wide', '--csv', '--crop', '1:1'])).out);
      expect(csv[0]!.slice(-7)).toEqual([
        'crop_1x1_left',
        'crop_1x1_top',
        'crop_1x1_width',
        'crop_1x1_height',
        'crop_1x1_score',
        'error_code',
        'error_message',
      ]);
      const [left, top, width, height] = csv[1]!.slice(-7, -3).map(Number);
      expect(left).toBeGreaterThanOrEqual(400);
      expect([top, width, height]).toEqual([0, 200, 200]);

      const table = await cli(['wide', '--crop', '1:1', '--crop-out', 'crops']);
      expect(table.code).toBe(0);
      const lines = table.out.split('\n');
      expect(lines[0]).toMatch(/weakest\s+crop 1:1$/);
      expect(lines[1]).toMatch(new RegExp(`\\s200x200\\+${left}\\+0$`));
      expect(table.err).toContain('wrote 1 crops to crops');
      const cut = await readFile(join(root, 'crops', 'wide', 'halves.1x1.png'));
      const meta = await sharp(cut).metadata();
      expect([meta.width, meta.height]).toEqual([200, 200]);
      expect((await sharp(cut).stats()).channels[0]!.mean).toBeGreaterThan(240);
    });

    it('exits 2 on a bad aspect, too many aspects, or --crop-out without --crop', async () => {
      const bad = await cli(['wide', '--crop', '16x9']);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain('Expected crop aspects as W:H with positive integers');
      expect((await cli(['wide', '--crop', '1:1,2:1,3:1,4:1,5:1'])).err).toContain(
        'Expected at most 4 crop aspects but received 5',
      );
      const orphan = await cli(['wide', '--crop-out', 'crops']);
      expect(orphan.code).toBe(2);
      expect(orphan.err).toContain('--crop-out needs --crop');
    });
  });

  it('reads text from a sidecar file and from a JSON map', async () => {
    await writeFile(join(images, 'nested', 'mid.txt'), 'lovely sharp');
    const first = await cli(['photos/nested', '--json']);
    expect(first.err).toBe('');
    const sidecar = JSON.parse(first.out);
    expect(sidecar.results[0].mode).toBe('image+text');
    const plain = JSON.parse((await cli(['photos/nested', '--json', '--no-sidecar'])).out);
    expect(plain.results[0].mode).toBe('image');
    expect(sidecar.results[0].score).toBeGreaterThan(plain.results[0].score);
    await writeFile(join(root, 'text.json'), JSON.stringify({ 'mid.png': ['blurry', 'dark'] }));
    const mapped = JSON.parse((await cli(['photos/nested', '--json', '--text-map', 'text.json'])).out);
    expect(mapped.results[0].score).toBeLessThan(plain.results[0].score);
  });

  it('skips HEIC/HEIF in folders, and answers the typed error for one named explicitly', async () => {
    const dir = join(root, 'iphone');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'IMG_0001.HEIC'), await heicBranded(40, 40));
    await writeFile(join(dir, 'IMG_0002.heif'), await heicBranded(40, 40));
    await writeFile(join(dir, 'ok.png'), await solid(40, 40, { r: 9, g: 9, b: 9 }));
    expect((await expandInputs([dir])).files).toEqual([join(dir, 'ok.png')]);
    const { code, out } = await cli(['iphone/IMG_0001.HEIC', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(out).errors).toEqual([
      {
        file: 'iphone/IMG_0001.HEIC',
        code: 'IMAGE_UNSUPPORTED_FORMAT',
        message: 'HEIC/HEIF (HEVC) cannot be decoded by this build; convert to JPEG/AVIF',
      },
    ]);
  });

  it('writes the report to --output', async () => {
    const { code, err } = await cli(['photos', '--csv', '--output', join(root, 'out.csv')]);
    expect(code).toBe(0);
    expect(err).toContain('wrote');
    expect((await readFile(join(root, 'out.csv'), 'utf8')).split('\n')[0]).toContain('rank,file,score');
  });

  it('exits 2 with a clear message when nothing matches or the model is unknown', async () => {
    const none = await cli(['nowhere/*.jpg']);
    expect(none.code).toBe(2);
    expect(none.err).toBe('warning: nowhere/*.jpg matched no image files\nerror: no image files to score\n');
    const unknown = await cli(['photos', '--model', 'nima']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe(
      `error [MODEL_NOT_FOUND]: Unknown model "nima" in ${modelsDir}; valid names: tiny\n`,
    );
    const badTop = await cli(['photos', '--top', '0']);
    expect(badTop.code).toBe(2);
    expect(badTop.err).toContain('Expected positive integer for --top but received 0');
  });

  it('resolves paths from where npm was run (INIT_CWD), not from the package root', async () => {
    const npmRun = { INIT_CWD: '/home/me/photos', npm_package_json: '/repo/package.json' };
    expect(callerCwd(npmRun, '/repo')).toBe('/home/me/photos');
    // run directly, or by a child that inherited npm's variables but has its own cwd
    expect(callerCwd({}, '/repo')).toBe('/repo');
    expect(callerCwd(npmRun, '/tmp/elsewhere')).toBe('/tmp/elsewhere');
    // `cd test/fixtures && npm run score -- samples`
    const run = promisify(execFile);
    const fixtures = join(import.meta.dirname, '../fixtures');
    const { stdout } = await run(
      'npm',
      ['run', '--silent', 'score', '--', 'samples', '--models-dir', modelsDir, '--model', 'tiny', '--json'],
      { cwd: fixtures },
    );
    const files = JSON.parse(stdout).results.map((r: { file: string }) => r.file);
    expect(files).toHaveLength(8);
    expect(files.every((f: string) => f.startsWith('samples/'))).toBe(true);
  });

  it('runs as a real process through the bin entry and sets the exit code', async () => {
    const run = promisify(execFile);
    const bin = join(import.meta.dirname, '../../layers/core/src/cli/bin.ts');
    const tsx = join(import.meta.dirname, '../../node_modules/.bin/tsx');
    const ok = await run(
      tsx,
      [bin, 'score', 'photos', '--models-dir', modelsDir, '--model', 'tiny', '--json'],
      { cwd: root },
    );
    expect(JSON.parse(ok.stdout).results).toHaveLength(3);
    const failed = await run(
      tsx,
      [bin, 'score', 'broken.jpg', '--models-dir', modelsDir, '--model', 'tiny'],
      { cwd: root },
    ).catch((e: { code: number; stdout: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stdout: string }).stdout).toContain('IMAGE_UNSUPPORTED_FORMAT');
  });
});
