/**
 * The `word-vocab` tokenizer of docs/MODEL_FORMAT.md, identical to the Python one used in training
 * (models/mmlq/mmlq_ref/tokenizer.py): NFKC, lower-case, tokens are maximal runs of letters (L*) and
 * numbers (N*), vocabulary lookup with an unknown id, truncation and padding.
 */
import { InvalidArgumentError } from './errors.ts';

export interface TokenizerSpec {
  lowercase: boolean;
  padId: number;
  unknownId: number;
  maxTokens: number;
}

export interface Encoded {
  ids: BigInt64Array;
  mask: BigInt64Array;
  /** Number of real (non-padding) tokens, after truncation. */
  length: number;
  /** Number of tokens that were not in the vocabulary. */
  unknown: number;
}

const TOKEN = /[\p{L}\p{N}]+/gu;

export function splitWords(text: string, lowercase: boolean): string[] {
  let normalised = text.normalize('NFKC');
  if (lowercase) normalised = normalised.toLowerCase();
  return normalised.match(TOKEN) ?? [];
}

export class WordTokenizer {
  readonly spec: TokenizerSpec;
  private readonly vocab: Map<string, number>;

  constructor(vocabText: string, spec: TokenizerSpec) {
    const lines = vocabText.split('\n');
    if (lines.at(-1) === '') lines.pop();
    this.vocab = new Map();
    lines.forEach((word, id) => {
      if (!this.vocab.has(word)) this.vocab.set(word, id);
    });
    for (const [label, id] of [
      ['padId', spec.padId],
      ['unknownId', spec.unknownId],
    ] as const) {
      if (id >= lines.length) {
        throw new InvalidArgumentError(
          `Expected tokenizer ${label} below the vocabulary size ${lines.length} but received ${id}`,
        );
      }
    }
    this.spec = spec;
  }

  get size(): number {
    return this.vocab.size;
  }

  encode(text: string): Encoded {
    const { maxTokens, padId, unknownId, lowercase } = this.spec;
    const words = splitWords(text, lowercase).slice(0, maxTokens);
    const ids = new BigInt64Array(maxTokens).fill(BigInt(padId));
    const mask = new BigInt64Array(maxTokens);
    let unknown = 0;
    words.forEach((word, i) => {
      const id = this.vocab.get(word);
      if (id === undefined) unknown++;
      ids[i] = BigInt(id ?? unknownId);
      mask[i] = 1n;
    });
    return { ids, mask, length: words.length, unknown };
  }
}

/** Joins the texts around an image (caption, alt text, comments...) the way training did. */
export function joinTexts(texts: readonly (string | undefined | null)[]): string {
  return texts
    .map((t) => (t ?? '').trim())
    .filter((t) => t.length > 0)
    .join('\n');
}
