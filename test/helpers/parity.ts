/**
 * Reading the parity fixtures the Python exporters write beside a model (parity/index.json and raw
 * little-endian tensors) and comparing outputs with them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Feed } from '#core/model/runtime.ts';

export interface TensorFile {
  file: string;
  dtype: 'float32' | 'int64';
  dims: number[];
}

/** Loads one recorded input tensor from `<modelDir>/parity/`. */
export async function readTensor(modelDir: string, spec: TensorFile): Promise<Feed> {
  const bytes = await readFile(join(modelDir, 'parity', spec.file));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const data = spec.dtype === 'float32' ? new Float32Array(buffer) : new BigInt64Array(buffer);
  expect(data.length).toBe(spec.dims.reduce((a, b) => a * b, 1));
  return { data, dims: spec.dims };
}

/** Loads every input of a case, by input name. */
export async function readFeeds(
  modelDir: string,
  inputs: Record<string, TensorFile>,
): Promise<Record<string, Feed>> {
  const feeds: Record<string, Feed> = {};
  for (const [name, spec] of Object.entries(inputs)) feeds[name] = await readTensor(modelDir, spec);
  return feeds;
}

export function maxAbsDiff(actual: ArrayLike<number>, expected: readonly number[]): number {
  expect(actual.length).toBe(expected.length);
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i]! - expected[i]!));
  return max;
}
