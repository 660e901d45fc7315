import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ModelSession } from '#core/model/runtime.ts';
import { buildGraph } from '../helpers/tiny-model.ts';

/** The threads this process has now (Linux: one entry per thread). */
const threadCount = () => readdirSync('/proc/self/task').length;

/** How many threads creating a session adds: onnxruntime starts its intra-op pool (n - 1 threads) there. */
async function threadsAddedBy(intraOpThreads: number): Promise<number> {
  const graph = buildGraph({ text: false });
  const before = threadCount();
  const session = await ModelSession.create(graph, 'tiny', {
    provider: 'cpu',
    intraOpThreads,
    log: () => {},
  });
  const added = threadCount() - before;
  await session.release();
  return added;
}

describe('ModelSession threads', () => {
  it('runs one intra-op thread per available core by default (0), as many as asked otherwise', async () => {
    await readFile(import.meta.filename); // libuv's pool starts on first use: not during the counts
    await threadsAddedBy(1); // so does onnxruntime's own first-session thread
    const one = await threadsAddedBy(1);
    const two = await threadsAddedBy(2);
    const byDefault = await threadsAddedBy(0);
    expect(two - one).toBe(1);
    // onnxruntime's own default counts physical cores from cpuid: on a 2-vCPU VM it ran one thread
    // (54-65 ms per image at batch 8 instead of 33). Ours is what the process may use.
    expect(byDefault - one).toBe(availableParallelism() - 1);
  });
});
