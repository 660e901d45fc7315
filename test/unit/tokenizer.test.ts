import { describe, expect, it } from 'vitest';
import { HuggingFaceTokenizer, joinTexts, splitWords, WordTokenizer } from '#core/model/tokenizer.ts';

const vocab = ['<pad>', '<unk>', 'sharp', 'lovely', 'light', 'café', '2', 'x2'].join('\n');
const spec = { lowercase: true, padId: 0, unknownId: 1, maxTokens: 6 };

describe('word-vocab tokenizer', () => {
  it('splits on anything that is not a letter or number, after NFKC and lower-casing', () => {
    expect(splitWords('Sharp, LOVELY light!! x2 — café ２', true)).toEqual([
      'sharp',
      'lovely',
      'light',
      'x2',
      'café',
      '2',
    ]);
    expect(splitWords('It\'s "well-lit"', true)).toEqual(['it', 's', 'well', 'lit']);
    expect(splitWords('Ｃａｆé', false)).toEqual(['Café']);
    expect(splitWords('  ... ', true)).toEqual([]);
  });

  it('maps words to vocabulary line numbers, unknown words to unknownId, and pads with a zero mask', () => {
    const t = new WordTokenizer(vocab, spec);
    const e = t.encode('Lovely light, bad focus');
    expect(Array.from(e.ids)).toEqual([3n, 4n, 1n, 1n, 0n, 0n]);
    expect(Array.from(e.mask)).toEqual([1n, 1n, 1n, 1n, 0n, 0n]);
    expect(e.length).toBe(4);
    expect(e.unknown).toBe(2);
  });

  it('truncates to maxTokens', () => {
    const e = new WordTokenizer(vocab, spec).encode('sharp sharp sharp sharp sharp sharp sharp sharp');
    expect(e.length).toBe(6);
    expect(Array.from(e.mask)).toEqual([1n, 1n, 1n, 1n, 1n, 1n]);
  });

  it('encodes empty text as an all-zero mask (image-only)', () => {
    const e = new WordTokenizer(vocab, spec).encode('');
    expect(e.length).toBe(0);
    expect(Array.from(e.mask)).toEqual([0n, 0n, 0n, 0n, 0n, 0n]);
  });

  it('rejects special ids outside the vocabulary', () => {
    expect(() => new WordTokenizer('<pad>\n', spec)).toThrow(
      'Expected tokenizer unknownId below the vocabulary size 1 but received 1',
    );
  });

  it('joins caption, alt text and comments with newlines, skipping blanks', () => {
    expect(joinTexts(['A caption ', undefined, '', null, 'alt text'])).toBe('A caption\nalt text');
  });
});

describe('huggingface tokenizer (BERT WordPiece through @huggingface/tokenizers)', () => {
  const words = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'photo', 'is', 'crisp', ','];
  const vocab = Object.fromEntries(
    [...words, '!', 'love', '##ly', 'light', 'un', '##aff', '##able', '.'].map((w, i) => [w, i]),
  );
  const tokenizerJson = JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: words.slice(0, 5).map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  });
  const configJson = JSON.stringify({ do_lower_case: true, pad_token: '[PAD]', unk_token: '[UNK]' });
  const ids = (e: { ids: BigInt64Array }) => Array.from(e.ids, Number);
  const mask = (e: { mask: BigInt64Array }) => Array.from(e.mask, Number);

  it('adds [CLS]/[SEP], splits word pieces, pads with [PAD] and counts unknown words', () => {
    const tok = new HuggingFaceTokenizer(tokenizerJson, configJson, 12, 'm.json');
    const e = tok.encode('The photo is CRISP, lovely!');
    expect(ids(e)).toEqual([2, 5, 6, 7, 8, 9, 11, 12, 10, 3, 0, 0]);
    expect(mask(e)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    expect([e.length, e.unknown]).toEqual([10, 0]);
    const u = tok.encode('Unaffable zzz');
    expect(ids(u).slice(0, 6)).toEqual([2, 14, 15, 16, 1, 3]);
    expect(u.unknown).toBe(1);
  });

  it('truncates before the trailing [SEP], even when the last kept word is unknown', () => {
    const tok = new HuggingFaceTokenizer(tokenizerJson, configJson, 5, 'm.json');
    expect(ids(tok.encode('the photo is crisp, lovely'))).toEqual([2, 5, 6, 7, 3]);
    expect(ids(tok.encode('the zzz photo is crisp'))).toEqual([2, 5, 1, 6, 3]);
    // Text that spells a special token is still cut at the right place.
    expect(ids(tok.encode('[CLS] the photo is crisp'))).toEqual([2, 2, 5, 6, 3]);
  });

  it('gives an all-zero mask for empty or blank text: the image-only mode', () => {
    const tok = new HuggingFaceTokenizer(tokenizerJson, configJson, 4, 'm.json');
    for (const text of ['', '  \n\t']) {
      const e = tok.encode(text);
      expect([ids(e), mask(e), e.length]).toEqual([[0, 0, 0, 0], [0, 0, 0, 0], 0]);
    }
  });

  it('uses the pad id the config names', () => {
    const padded = JSON.stringify({ pad_token: '[MASK]' });
    expect(ids(new HuggingFaceTokenizer(tokenizerJson, padded, 4, 'm.json').encode('photo'))).toEqual([
      2, 6, 3, 4,
    ]);
  });

  it('rejects a tokenizer file that is not JSON or not a tokenizer, naming the manifest', () => {
    expect(() => new HuggingFaceTokenizer('{oops', undefined, 4, '/m/manifest.json')).toThrow(
      'Invalid tokenizer in /m/manifest.json: not valid JSON',
    );
    expect(
      () => new HuggingFaceTokenizer('{"model":{"type":"Nope"}}', undefined, 4, '/m/manifest.json'),
    ).toThrow(/^Invalid tokenizer in \/m\/manifest\.json: @huggingface\/tokenizers cannot load it/);
  });
});
