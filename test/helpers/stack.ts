/** The local stack on the tiny model, in a fresh temp dir (its S3 data and dead letters inside it). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Stack, type StackOptions, startStack } from '#tools/local/stack.ts';
import { writeTinyModel } from './tiny-model.ts';

export interface TinyStack {
  dir: string;
  stack: Stack;
  /** Stops the stack and removes the dir. */
  stop: () => Promise<void>;
}

export async function startTinyStack(
  name: string,
  options: Omit<StackOptions, 'root' | 'dataDir' | 'model' | 'modelsDir'>,
): Promise<TinyStack> {
  const dir = await mkdtemp(join(tmpdir(), `mmlq-${name}-`));
  await writeTinyModel(join(dir, 'models'), { name: 'tiny' });
  const stack = await startStack({
    root: process.cwd(),
    dataDir: join(dir, 's3'),
    deadLetterDir: join(dir, 'dead-letter'),
    s3Port: await freePort(),
    model: 'tiny',
    modelsDir: join(dir, 'models'),
    ...options,
  });
  return {
    dir,
    stack,
    stop: async () => {
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
