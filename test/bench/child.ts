/**
 * One benchmark configuration in a fresh process (test/bench/run.ts starts it): cold start to the first
 * score, then, interleaved round by round, the core Scorer end to end on JPEG files (read, decode,
 * infer, score) and onnxruntime alone on a batch prepared once from the same files (the bound), then
 * the serial decode cost on one libvips thread, and the process's peak RSS. Prints one JSON line.
 */
import { readFile } from 'node:fs/promises';
import { decodeModelInput, resolveLimits, toNormalisedChw } from '#core/model/image.ts';
import type { Feed } from '#core/model/runtime.ts';
import { Scorer } from '#core/model/scorer.ts';

export interface ChildConfig {
  model: string;
  modelsDir: string;
  paths: string[];
  batch: number;
  /** Images per end-to-end pass (the files repeated). */
  n: number;
  rounds: number;
  threads: number;
  text?: string | undefined;
  /** Another model with the same inputs (the fp32 graph beside a variant): its bound is timed after the
   * rounds above, interleaved run by run with this model's bound on the same feeds. */
  baseline?: string | undefined;
}

export interface ChildResult {
  coldMs: number;
  e2eMs: number;
  e2eCpuMs: number;
  boundMs: number;
  boundCpuMs: number;
  decodeLatencyMs: number;
  decodeCpuMs: number;
  peakRssMiB: number;
  e2eAll: number[];
  boundAll: number[];
  /** With `baseline`: both bounds again, interleaved (ms per image, medians). */
  paired?: { boundMs: number; baselineBoundMs: number };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

async function peakRssMiB(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const kb = /VmHWM:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

export async function runChild(config: ChildConfig): Promise<ChildResult> {
  const { paths, batch, n, text } = config;
  const scorerOf = (model: string) =>
    Scorer.create({
      model,
      modelsDir: config.modelsDir,
      batchSize: batch,
      intraOpThreads: config.threads,
      log: () => {},
    });
  const scorer = await scorerOf(config.model);
  await scorer.scoreOne({ id: 'cold', image: { path: paths[0]! }, text });
  const coldMs = performance.now(); // since this process started (Node's time origin)

  const requests = Array.from({ length: n }, (_, i) => ({
    id: String(i),
    image: { path: paths[i % paths.length]! },
    text,
  }));
  // The bound: the same graph and session, fed a batch prepared once from the same files.
  const { manifest, session, tokenizer } = scorer.model;
  const spec = manifest.inputs.image;
  const plane = 3 * spec.height * spec.width;
  const limits = resolveLimits();
  const pixels = new Float32Array(batch * plane);
  for (let i = 0; i < batch; i++) {
    const { hwc } = await decodeModelInput(await readFile(paths[i % paths.length]!), spec, limits);
    toNormalisedChw(hwc, spec, pixels, i * plane);
  }
  const feeds: Record<string, Feed> = {
    [spec.name]: { data: pixels, dims: [batch, 3, spec.height, spec.width] },
  };
  const textSpec = manifest.inputs.text;
  if (textSpec) {
    const ids = new BigInt64Array(batch * textSpec.maxTokens);
    const mask = new BigInt64Array(batch * textSpec.maxTokens);
    if (text && tokenizer) {
      const encoded = tokenizer.encode(text);
      for (let i = 0; i < batch; i++) {
        ids.set(encoded.ids, i * textSpec.maxTokens);
        mask.set(encoded.mask, i * textSpec.maxTokens);
      }
    }
    feeds[textSpec.idsName] = { data: ids, dims: [batch, textSpec.maxTokens] };
    feeds[textSpec.maskName] = { data: mask, dims: [batch, textSpec.maxTokens] };
  }
  const fetches = [
    manifest.outputs.distribution.name,
    ...(manifest.outputs.attributes ? [manifest.outputs.attributes.name] : []),
  ];
  const runs = Math.max(1, Math.round(n / batch));
  /** One run of the bound: the batch's buffers move to the inference worker and back, no copy (as the Scorer's). */
  const bound = async (s: typeof session) => {
    const { feeds: back } = await s.runMoving(feeds, fetches);
    for (const [name, data] of Object.entries(back)) feeds[name] = { data, dims: feeds[name]!.dims };
  };

  // warm-up of both paths at this batch size
  await scorer.scoreMany(requests.slice(0, batch));
  await bound(session);

  const e2eAll: number[] = [];
  const e2eCpu: number[] = [];
  const boundAll: number[] = [];
  const boundCpu: number[] = [];
  const latency: number[] = [];
  for (let r = 0; r < config.rounds; r++) {
    let c = process.cpuUsage();
    let t = performance.now();
    const outcomes = await scorer.scoreMany(requests);
    e2eAll.push((performance.now() - t) / n);
    e2eCpu.push(cpuMs(c) / n);
    for (const o of outcomes) {
      if (!o.ok) throw new Error(`${o.id}: ${o.error.code} ${o.error.message}`);
      latency.push(o.result.timings.decodeMs);
    }
    c = process.cpuUsage();
    t = performance.now();
    for (let k = 0; k < runs; k++) await bound(session);
    boundAll.push((performance.now() - t) / (runs * batch));
    boundCpu.push(cpuMs(c) / (runs * batch));
  }

  // Decode alone, one image at a time (one libvips thread): CPU per image.
  const decodeCpu: number[] = [];
  for (const path of paths) {
    const bytes = await readFile(path);
    const c = process.cpuUsage();
    const { hwc } = await decodeModelInput(bytes, spec, limits);
    // into the batch's buffer as it came back from the last bound run (`pixels` itself moved)
    toNormalisedChw(hwc, spec, feeds[spec.name]!.data as Float32Array, 0);
    decodeCpu.push(cpuMs(c));
  }
  const peak = await peakRssMiB(); // before a baseline session adds its own memory
  let paired: ChildResult['paired'];
  if (config.baseline) {
    const otherSession = (await scorerOf(config.baseline)).model.session;
    await bound(otherSession);
    const mine: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < Math.max(3, config.rounds); r++) {
      for (const [s, into] of [
        [session, mine],
        [otherSession, theirs],
      ] as const) {
        const t = performance.now();
        for (let k = 0; k < runs; k++) await bound(s);
        into.push((performance.now() - t) / (runs * batch));
      }
    }
    paired = { boundMs: median(mine), baselineBoundMs: median(theirs) };
  }
  return {
    coldMs,
    e2eMs: median(e2eAll),
    e2eCpuMs: median(e2eCpu),
    boundMs: median(boundAll),
    boundCpuMs: median(boundCpu),
    decodeLatencyMs: median(latency),
    decodeCpuMs: median(decodeCpu),
    peakRssMiB: peak,
    e2eAll,
    boundAll,
    ...(paired ? { paired } : {}),
  };
}

if (process.argv[2] === '--child') {
  const config = JSON.parse(process.argv[3]!) as ChildConfig;
  process.stdout.write(`${JSON.stringify(await runChild(config))}\n`);
}
