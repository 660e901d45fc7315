/**
 * Text → token ids for multi-modal models (docs/MODEL_FORMAT.md "inputs.text.tokenizer"):
 *
 * - `word-vocab`: identical to the Python one used in training (models/mmlq/mmlq_ref/word_vocab.py):
 *   NFKC, lower-case, tokens are maximal runs of letters (L*) and numbers (N*), vocabulary lookup with
 *   an unknown id, truncation and padding.
 * - `huggingface`: a Hugging Face tokenizer.json (+ tokenizer_config.json), run by
 *   @huggingface/tokenizers (BERT WordPiece, BPE, ...), truncated keeping its special tokens.
 *
 * Either way an empty text gives an all-zero attention mask: the model's image-only mode.
 */
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { InvalidArgumentError, ModelError } from '../common/errors.ts';

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

export interface TextTokenizer {
  encode(text: string): Encoded;
}

export class WordTokenizer implements TextTokenizer {
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

/**
 * A Hugging Face tokenizer. Special tokens are added as the tokenizer's post-processor says (BERT:
 * `[CLS] … [SEP]`); a text longer than maxTokens loses tokens from its end, before the trailing
 * special tokens, so `[SEP]` stays last (as `truncation: longest_first` does in Hugging Face).
 */
export class HuggingFaceTokenizer implements TextTokenizer {
  readonly maxTokens: number;
  readonly padId: number;
  private readonly impl: HfTokenizerImpl;
  private readonly unknownId: number | undefined;

  constructor(tokenizerJson: string, configJson: string | undefined, maxTokens: number, source: string) {
    let tokenizer: Record<string, unknown>;
    let config: Record<string, unknown>;
    try {
      tokenizer = JSON.parse(tokenizerJson);
      config = configJson === undefined ? {} : JSON.parse(configJson);
    } catch (error) {
      throw new ModelError('MANIFEST_INVALID', `Invalid tokenizer in ${source}: not valid JSON`, {
        cause: error,
      });
    }
    try {
      this.impl = new HfTokenizerImpl(tokenizer, config);
    } catch (error) {
      throw new ModelError(
        'MANIFEST_INVALID',
        `Invalid tokenizer in ${source}: @huggingface/tokenizers cannot load it (${(error as Error).message})`,
        { cause: error },
      );
    }
    this.maxTokens = maxTokens;
    const idOf = (field: string): number | undefined => {
      const value = config[field];
      const token = typeof value === 'string' ? value : (value as { content?: string } | undefined)?.content;
      return token === undefined ? undefined : this.impl.token_to_id(token);
    };
    const padding = tokenizer['padding'] as { pad_id?: number } | null | undefined;
    this.padId = idOf('pad_token') ?? padding?.pad_id ?? 0;
    const model = tokenizer['model'] as { unk_token?: string } | undefined;
    this.unknownId =
      idOf('unk_token') ?? (model?.unk_token ? this.impl.token_to_id(model.unk_token) : undefined);
  }

  get size(): number {
    return this.impl.get_vocab(true).size;
  }

  encode(text: string): Encoded {
    const ids = new BigInt64Array(this.maxTokens).fill(BigInt(this.padId));
    const mask = new BigInt64Array(this.maxTokens);
    if (text.trim().length === 0) return { ids, mask, length: 0, unknown: 0 };
    const kept = this.encodeTruncated(text);
    let unknown = 0;
    kept.forEach((id, i) => {
      if (id === this.unknownId) unknown++;
      ids[i] = BigInt(id);
      mask[i] = 1n;
    });
    return { ids, mask, length: kept.length, unknown };
  }

  /** The tokenizer's ids for `text`, truncated before its trailing special tokens. */
  private encodeTruncated(text: string): number[] {
    const all = this.impl.encode(text).ids;
    const max = this.maxTokens;
    if (all.length <= max) return all;
    // Where the text's own tokens sit between the special tokens the post-processor added.
    const content = this.impl.encode(text, { add_special_tokens: false }).ids;
    const lead = findRun(all, content);
    const trail = all.length - lead - content.length;
    if (lead < 0 || trail < 0 || lead + trail >= max) return all.slice(0, max);
    return [
      ...all.slice(0, lead),
      ...content.slice(0, max - lead - trail),
      ...all.slice(lead + content.length),
    ];
  }
}

/** The first index where `run` occurs in `all`, or -1. */
function findRun(all: readonly number[], run: readonly number[]): number {
  for (let p = 0; p + run.length <= all.length; p++) {
    let i = 0;
    while (i < run.length && all[p + i] === run[i]) i++;
    if (i === run.length) return p;
  }
  return -1;
}

/** Joins the texts around an image (caption, alt text, comments...) the way training did. */
export function joinTexts(texts: readonly (string | undefined | null)[]): string {
  return texts
    .map((t) => (t ?? '').trim())
    .filter((t) => t.length > 0)
    .join('\n');
}
