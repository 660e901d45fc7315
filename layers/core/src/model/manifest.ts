/**
 * The model manifest (models/<name>/manifest.json): schema, validation with precise errors, and
 * integrity checks of the files it lists. See docs/MODEL_FORMAT.md.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import { z } from 'zod';
import { ModelError } from '../common/errors.ts';

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" or "-"');
const positiveInt = z.number().int().positive();
const triple = z.tuple([z.number(), z.number(), z.number()]);
const relativePath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith('/') && !normalize(p).split(sep).includes('..'),
    'a path inside the model folder',
  );

const imageInput = z
  .object({
    name: z.string().min(1),
    height: positiveInt,
    width: positiveInt,
    resize: z.discriminatedUnion('mode', [
      z.object({ mode: z.literal('shortest-edge'), size: positiveInt }).strict(),
      z.object({ mode: z.literal('exact') }).strict(),
    ]),
    crop: z.enum(['center', 'none']),
    rescale: z.number().positive(),
    mean: triple,
    std: triple.refine((s) => s.every((v) => v > 0), 'three positive numbers'),
  })
  .strict()
  .superRefine((image, ctx) => {
    if (image.resize.mode === 'shortest-edge') {
      if (image.crop !== 'center') {
        ctx.addIssue({
          code: 'custom',
          path: ['crop'],
          message: 'crop must be "center" with resize mode shortest-edge',
        });
      }
      if (image.resize.size < Math.min(image.height, image.width)) {
        ctx.addIssue({
          code: 'custom',
          path: ['resize', 'size'],
          message: 'resize.size must be at least the crop size',
        });
      }
    }
  });

const textInput = z
  .object({
    idsName: z.string().min(1),
    maskName: z.string().min(1),
    maxTokens: positiveInt,
    tokenizer: z.discriminatedUnion('type', [
      z
        .object({
          type: z.literal('word-vocab'),
          vocab: z.string().min(1),
          lowercase: z.boolean(),
          padId: z.number().int().nonnegative(),
          unknownId: z.number().int().nonnegative(),
        })
        .strict(),
      // A Hugging Face tokenizer.json (+ tokenizer_config.json), run by @huggingface/tokenizers.
      z
        .object({
          type: z.literal('huggingface'),
          file: z.string().min(1),
          config: z.string().min(1).optional(),
        })
        .strict(),
    ]),
  })
  .strict();

/** Score -> percentile over a reference set (strictly increasing points). */
const calibration = z
  .object({
    reference: z.string().min(1),
    points: z
      .array(z.tuple([z.number(), z.number().min(0).max(100)]))
      .min(2)
      .refine(
        (pts) => pts.every((p, i) => i === 0 || (p[0] > pts[i - 1]![0] && p[1] > pts[i - 1]![1])),
        'points must be strictly increasing in score and percentile',
      ),
  })
  .strict();

export const manifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    name,
    version: z.string().regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, 'a semantic version such as 1.2.3'),
    description: z.string(),
    architecture: z.string().optional(),
    license: z.object({ spdx: z.string().min(1), attribution: z.string().optional() }).strict(),
    files: z.record(
      z.string(),
      z.object({ path: relativePath, sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 hex digits') }).strict(),
    ),
    inputs: z.object({ image: imageInput, text: textInput.optional() }).strict(),
    outputs: z
      .object({
        distribution: z
          .object({ name: z.string().min(1), bins: positiveInt, binValues: z.array(z.number()) })
          .strict()
          .refine((d) => d.binValues.length === d.bins, 'binValues must have one value per bin'),
        attributes: z
          .object({ name: z.string().min(1), labels: z.array(z.string().min(1)).min(1) })
          .strict()
          .optional(),
        imageFeatures: z
          .object({ name: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict(),
    score: z
      .object({
        min: z.number(),
        max: z.number(),
        direction: z.enum(['higher-is-better', 'lower-is-better']),
      })
      .strict()
      .refine((s) => s.max > s.min, 'max must be greater than min'),
    calibration,
    variants: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits or "-"'),
        z
          .object({
            graph: z.string().min(1),
            description: z.string().min(1),
            calibration: calibration.optional(),
          })
          .strict(),
      )
      .optional(),
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (!m.files['graph'])
      ctx.addIssue({
        code: 'custom',
        path: ['files', 'graph'],
        message: 'a "graph" file (the ONNX model) is required',
      });
    for (const [variant, v] of Object.entries(m.variants ?? {})) {
      if (!m.files[v.graph])
        ctx.addIssue({
          code: 'custom',
          path: ['variants', variant, 'graph'],
          message: `"${v.graph}" is not a key of files`,
        });
    }
    const tokenizer = m.inputs.text?.tokenizer;
    if (tokenizer) {
      const fields =
        tokenizer.type === 'word-vocab'
          ? ([['vocab', tokenizer.vocab]] as const)
          : ([
              ['file', tokenizer.file],
              ['config', tokenizer.config],
            ] as const);
      for (const [field, key] of fields) {
        if (key !== undefined && !m.files[key]) {
          ctx.addIssue({
            code: 'custom',
            path: ['inputs', 'text', 'tokenizer', field],
            message: `"${key}" is not a key of files`,
          });
        }
      }
    }
  });

export type Manifest = z.infer<typeof manifestSchema>;

/** Validates parsed JSON; the error lists every problem as `path: message`. */
export function parseManifest(json: unknown, source: string): Manifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`,
    );
    throw new ModelError('MANIFEST_INVALID', `Invalid manifest ${source}: ${problems.join('; ')}`);
  }
  return result.data;
}

export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ModelError('MODEL_NOT_FOUND', `Expected a model manifest at ${path} but it cannot be read`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelError(
      'MANIFEST_INVALID',
      `Invalid manifest ${path}: not valid JSON (${(error as Error).message})`,
      { cause: error },
    );
  }
  return parseManifest(json, path);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads every file the manifest lists and checks its sha256; returns the bytes by key. */
export async function readModelFiles(
  dir: string,
  manifest: Manifest,
  verify = true,
): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const [key, file] of Object.entries(manifest.files)) {
    const path = join(dir, file.path);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw new ModelError(
        'MODEL_LOAD_FAILED',
        `Expected model file ${path} (files.${key}) but it cannot be read`,
        { cause: error },
      );
    }
    if (verify) {
      const actual = sha256(bytes);
      if (actual !== file.sha256) {
        throw new ModelError(
          'MODEL_FILE_MISMATCH',
          `Expected sha256 ${file.sha256} for ${path} (files.${key}) but received ${actual}`,
        );
      }
    }
    files.set(key, bytes);
  }
  return files;
}
