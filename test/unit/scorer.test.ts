import { readdirSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MmlqError } from '#core/common/errors.ts';
import { loadModel, unloadAll } from '#core/model/registry.ts';
import { Scorer } from '#core/model/scorer.ts';
import { distributionStats } from '#core/model/scores.ts';
import { crashInferenceWorker } from '../helpers/crash.ts';
import { patternJpeg, solid } from '../helpers/images.ts';
import { expected, VOCAB, writeTinyModel } from '../helpers/tiny-model.ts';

let root: string;
const logs: string[] = [];
const options = () => ({ model: 'tiny', modelsDir: root, log: (m: string) => logs.push(m) });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mmlq-scorer-'));
  await writeTinyModel(root, { name: 'tiny', size: 16 });
  await writeTinyModel(root, { name: 'tiny-image-only', text: false, size: 16 });
});

afterAll(unloadAll);

describe('Scorer', () => {
  it('returns the graph distribution, its mean/std, percentile and tier (golden values)', async () => {
    const scorer = await Scorer.create(options());
    const result = await scorer.scoreOne({
      id: 'orange',
      image: { bytes: await solid(64, 48, { r: 255, g: 128, b: 0 }) },
    });
    const want = expected([1, 128 / 255, 0]);
    for (const [i, p] of result.distribution.entries()) expect(p).toBeCloseTo(want.distribution[i]!, 4);
    const stats = distributionStats(want.distribution, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result.score).toBeCloseTo(stats.mean, 3);
    expect(result.std).toBeCloseTo(stats.std, 3);
    // calibration [[1,0],[5.5,50],[10,100]] is linear: percentile = (score - 1) / 9 * 100
    expect(result.percentile).toBeCloseTo(((stats.mean - 1) / 9) * 100, 1);
    // The golden percentile is 92.4: at or above the default top threshold (90).
    expect(result.percentile).toBeCloseTo(92.42, 1);
    expect(result.tier).toBe('top');
    expect(result.attributes).toEqual({
      brightness: expect.closeTo(want.attributes[0]!, 4),
      constant: expect.closeTo(want.attributes[1]!, 4),
    });
    expect(result.mode).toBe('image');
    expect(result.model).toEqual({ name: 'tiny', version: '1.0.0' });
    expect(result.image).toEqual({
      format: 'png',
      width: 64,
      height: 48,
      bytes: expect.any(Number),
      phash: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(Object.keys(result.timings)).toEqual(['readMs', 'decodeMs', 'inferenceMs']);
  });

  it('ranks a bright image above a dark one (the tiny model scores brightness)', async () => {
    const scorer = await Scorer.create(options());
    const [dark, bright] = await scorer.scoreMany([
      { id: 'dark', image: { bytes: await solid(32, 32, { r: 20, g: 20, b: 20 }) } },
      { id: 'bright', image: { bytes: await solid(32, 32, { r: 240, g: 240, b: 240 }) } },
    ]);
    expect(dark!.ok && bright!.ok).toBe(true);
    if (dark!.ok && bright!.ok) expect(bright!.result.score).toBeGreaterThan(dark!.result.score + 3);
  });

  it('uses text when the model takes it: positive words raise, negative words lower the score', async () => {
    const scorer = await Scorer.create(options());
    const bytes = await solid(32, 32, { r: 128, g: 128, b: 128 });
    const [none, good, bad] = await scorer.scoreMany([
      { id: 'none', image: { bytes } },
      { id: 'good', image: { bytes }, text: ['Sharp and LOVELY.'] },
      { id: 'bad', image: { bytes }, text: 'blurry, dark' },
    ]);
    if (!none!.ok || !good!.ok || !bad!.ok) throw new Error('expected all to score');
    expect(none!.result.mode).toBe('image');
    expect(good!.result.mode).toBe('image+text');
    const grey = 128 / 255;
    const ids = [VOCAB.indexOf('sharp'), VOCAB.indexOf('lovely')];
    expect(good!.result.distribution[9]).toBeCloseTo(
      expected([grey, grey, grey], ids, [1, 1]).distribution[9]!,
      4,
    );
    expect(good!.result.score).toBeGreaterThan(none!.result.score);
    expect(bad!.result.score).toBeLessThan(none!.result.score);
  });

  it('scores an image-only model and ignores text', async () => {
    const scorer = await Scorer.create({ ...options(), model: 'tiny-image-only' });
    expect(scorer.modelInfo.multimodal).toBe(false);
    const r = await scorer.scoreOne({
      id: 'x',
      image: { bytes: await solid(32, 32, { r: 0, g: 0, b: 0 }) },
      text: 'lovely',
    });
    expect(r.mode).toBe('image');
    expect(r.score).toBeCloseTo(5.5, 3);
  });

  it('reads images from bytes, files and streams alike', async () => {
    const scorer = await Scorer.create(options());
    const bytes = await patternJpeg(80, 60);
    const path = join(root, 'p.jpg');
    await writeFile(path, bytes);
    const outcomes = await scorer.scoreMany([
      { id: 'bytes', image: { bytes } },
      { id: 'path', image: { path } },
      { id: 'stream', image: { stream: Readable.from([bytes.subarray(0, 100), bytes.subarray(100)]) } },
    ]);
    const scores = outcomes.map((o) => {
      if (!o.ok) throw new Error(`${o.id} failed: ${o.error.code} ${o.error.message}`);
      return o.result.score;
    });
    expect(scores[0]).toBeGreaterThan(1);
    expect(scores[1]).toBe(scores[0]);
    expect(scores[2]).toBe(scores[0]);
  });

  it('gives concurrent scoreMany calls on one scorer the same results as one at a time', async () => {
    // Batch tensors are reused between runs: two calls in flight must never share one.
    const scorer = await Scorer.create({ ...options(), batchSize: 2 });
    const shades = [20, 60, 100, 140, 180, 220, 250];
    const requests = await Promise.all(
      shades.map(async (v) => ({
        id: String(v),
        image: { bytes: await solid(24, 24, { r: v, g: v, b: v }) },
      })),
    );
    const alone: number[][] = [];
    for (const r of requests) alone.push((await scorer.scoreOne(r)).distribution);
    const together = await Promise.all([
      scorer.scoreMany(requests),
      scorer.scoreMany([...requests].reverse()),
      scorer.scoreMany(requests.slice(2)),
    ]);
    const byId = (outcomes: Awaited<ReturnType<Scorer['scoreMany']>>) =>
      Object.fromEntries(outcomes.map((o) => [o.id, o.ok ? o.result.distribution : o.error.code]));
    const want = Object.fromEntries(requests.map((r, i) => [r.id, alone[i]]));
    expect(byId(together[0]!)).toEqual(want);
    expect(byId(together[1]!)).toEqual(want);
    expect(byId(together[2]!)).toEqual(
      Object.fromEntries(requests.slice(2).map((r, i) => [r.id, alone[i + 2]])),
    );
  });

  it('reports per-item errors in order without failing the batch', async () => {
    const scorer = await Scorer.create({ ...options(), batchSize: 2 });
    const good = await solid(32, 32, { r: 100, g: 100, b: 100 });
    const done: string[] = [];
    const outcomes = await scorer.scoreMany(
      [
        { id: 'a', image: { bytes: good } },
        { id: 'empty', image: { bytes: Buffer.alloc(0) } },
        { id: 'text', image: { bytes: Buffer.from('hello') } },
        { id: 'b', image: { bytes: good } },
        { id: 'missing', image: { path: join(root, 'missing.jpg') } },
      ],
      (n, o) => done.push(`${n}:${o.id}`),
    );
    expect(outcomes.map((o) => o.id)).toEqual(['a', 'empty', 'text', 'b', 'missing']);
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual([
      'ok',
      'IMAGE_EMPTY',
      'IMAGE_UNSUPPORTED_FORMAT',
      'ok',
      'IMAGE_NOT_FOUND',
    ]);
    expect(done).toHaveLength(5);
    expect(done.at(-1)!.startsWith('5:')).toBe(true);
  });

  it('never holds a batch back for a stream in the next batch (it may be slow): its decode is not awaited first', async () => {
    // Before running a batch the scorer lets the next batch's in-memory and file images reach libvips
    // (onnxruntime blocks the main thread while it runs). A stream is not waited for: here the stream
    // only ends once the first image has its result, so waiting for it would never finish.
    const scorer = await Scorer.create({ ...options(), batchSize: 1 });
    const bytes = await patternJpeg(40, 30);
    const path = join(root, 'next.jpg');
    await writeFile(path, bytes);
    const stream = new Readable({ read() {} });
    const outcomes = await scorer.scoreMany(
      [
        { id: 'first', image: { bytes } },
        { id: 'slow-stream', image: { stream } },
        { id: 'file', image: { path } },
      ],
      (_, o) => {
        if (o.id === 'first') {
          stream.push(bytes);
          stream.push(null);
        }
      },
    );
    expect(outcomes.map((o) => (o.ok ? o.result.score : o.error.code))).toEqual([
      expect.any(Number),
      (outcomes[0] as { result: { score: number } }).result.score,
      (outcomes[0] as { result: { score: number } }).result.score,
    ]);
  });

  it('throws the typed error from scoreOne', async () => {
    const scorer = await Scorer.create(options());
    const error = await scorer
      .scoreOne({ id: 'e', image: { bytes: Buffer.alloc(0) } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MmlqError);
    expect((error as MmlqError).code).toBe('IMAGE_EMPTY');
    expect((error as MmlqError).status).toBe(422);
  });

  it('loads a model once per process: concurrent and later callers share the session', async () => {
    const opts = {
      modelsDir: root,
      provider: 'cpu' as const,
      intraOpThreads: 1,
      verify: true,
      log: () => {},
    };
    const [a, b] = await Promise.all([loadModel('tiny', opts), loadModel('tiny', opts)]);
    const c = await loadModel('tiny', opts);
    expect(a).toBe(b);
    expect(c).toBe(a);
    const s1 = await Scorer.create({ ...options(), intraOpThreads: 1 });
    const s2 = await Scorer.create({ ...options(), intraOpThreads: 1 });
    expect(s1.model.session).toBe(a.session);
    expect(s2.model.session).toBe(a.session);
  });

  it('evicts a failed load so a later call can succeed', async () => {
    const dir = join(root, 'late');
    const opts = {
      modelsDir: root,
      provider: 'cpu' as const,
      intraOpThreads: 0,
      verify: true,
      log: () => {},
    };
    const first = await loadModel('late', opts).catch((e: unknown) => e);
    expect((first as MmlqError).code).toBe('MODEL_NOT_FOUND');
    await writeTinyModel(root, { name: 'late' });
    const second = await loadModel('late', opts);
    expect(second.dir).toBe(dir);
  });

  it('falls back to cpu with one log line when cuda is not available', async () => {
    logs.length = 0;
    const scorer = await Scorer.create({ ...options(), provider: 'cuda', intraOpThreads: 2 });
    expect(scorer.modelInfo.provider).toBe('cpu');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(
      /^Execution provider cuda (could not start|is unavailable) \(.+\); falling back to cpu$/,
    );
    const r = await scorer.scoreOne({ id: 'x', image: { bytes: await solid(32, 32, { r: 0, g: 0, b: 0 }) } });
    expect(r.score).toBeCloseTo(5.5, 3);
  });

  it('refuses a graph whose inputs do not match the manifest', async () => {
    await writeTinyModel(root, {
      name: 'mismatch',
      patch: (m: any) => {
        m.inputs.image.name = 'image';
      },
    });
    const error = await Scorer.create({ ...options(), model: 'mismatch' }).catch((e: unknown) => e);
    expect((error as MmlqError).code).toBe('MANIFEST_INVALID');
    expect((error as Error).message).toContain(
      'does not match its graph: expected inputs [image, input_ids, attention_mask]',
    );
  });

  it('leaves no inference thread behind when a load fails, before or after its session started', async () => {
    await writeTinyModel(root, {
      name: 'thread-mismatch',
      patch: (m: any) => {
        m.inputs.image.name = 'image';
      },
    });
    await writeTinyModel(root, {
      name: 'thread-tampered',
      patch: (m: any) => {
        m.files.graph.sha256 = '0'.repeat(64);
      },
    });
    await writeTinyModel(root, { name: 'thread-garbage', graphBytes: new TextEncoder().encode('not ONNX') });
    await Scorer.create(options()); // onnxruntime's process-wide threads start with its first session
    const before = readdirSync('/proc/self/task').length;
    const codes: string[] = [];
    for (const model of ['thread-mismatch', 'thread-tampered', 'thread-garbage', 'thread-missing']) {
      codes.push(((await Scorer.create({ ...options(), model }).catch((e: unknown) => e)) as MmlqError).code);
    }
    expect(codes).toEqual([
      'MANIFEST_INVALID',
      'MODEL_FILE_MISMATCH',
      'MODEL_LOAD_FAILED',
      'MODEL_NOT_FOUND',
    ]);
    // Not more than before (other tests' threads may end meanwhile; each leaked load added two).
    expect(readdirSync('/proc/self/task').length).toBeLessThanOrEqual(before);
  });

  it('reads and checks its graph again when its inference worker dies; a changed file is refused', async () => {
    await writeTinyModel(root, { name: 'heal', size: 16 });
    const scorer = await Scorer.create({ ...options(), model: 'heal' });
    const request = { id: 'x', image: { bytes: await solid(32, 32, { r: 90, g: 140, b: 30 }) } };
    const first = await scorer.scoreOne(request);
    const kill = () => crashInferenceWorker(scorer.model.session);
    await kill();
    expect((await scorer.scoreOne(request)).score).toBe(first.score);
    expect(scorer.model.session.restarts).toBe(1);
    // The graph on disk changes under a running scorer: the restart refuses it instead of serving it.
    await writeFile(join(root, 'heal', 'model.onnx'), 'not the graph that was loaded');
    await kill();
    const [outcome] = await scorer.scoreMany([request]);
    expect(outcome).toMatchObject({ ok: false, error: { code: 'MODEL_FILE_MISMATCH' } });
    expect(scorer.model.session.restarts).toBe(1);
  });

  it('fails with MODEL_LOAD_FAILED when the graph is not valid ONNX', async () => {
    await writeTinyModel(root, { name: 'garbage', graphBytes: new TextEncoder().encode('not a protobuf') });
    const error = await Scorer.create({ ...options(), model: 'garbage' }).catch((e: unknown) => e);
    expect((error as MmlqError).code).toBe('MODEL_LOAD_FAILED');
    expect((error as MmlqError).status).toBe(500);
    expect((error as Error).message).toMatch(
      /^Expected a valid ONNX graph in .*garbage\/model\.onnx but onnxruntime refused it: .+/,
    );
  });

  it('reports INFERENCE_FAILED with input names and shapes, never data, when the graph rejects a batch', async () => {
    await writeTinyModel(root, { name: 'fixed', size: 32, graphSize: 16 });
    const scorer = await Scorer.create({ ...options(), model: 'fixed' });
    const [outcome] = await scorer.scoreMany([
      { id: 'x', image: { bytes: await solid(40, 40, { r: 1, g: 2, b: 3 }) } },
    ]);
    expect(outcome!.ok).toBe(false);
    if (outcome!.ok) return;
    expect(outcome!.error.code).toBe('INFERENCE_FAILED');
    expect(outcome!.error.message).toMatch(
      /^onnxruntime failed to run the graph with pixel_values: float32\[1,3,32,32\], input_ids: int64\[1,8\], attention_mask: int64\[1,8\]: .+/,
    );
  });

  it('validates options with precise messages', async () => {
    await expect(Scorer.create({ ...options(), batchSize: 0 })).rejects.toThrow(
      'Expected positive integer for batchSize but received 0 of type number',
    );
    await expect(Scorer.create({ ...options(), limits: { maxPixels: -1 } })).rejects.toThrow(
      'Expected positive integer for limits.maxPixels but received -1 of type number',
    );
  });
});
