import { describe, expect, it } from 'vitest';
import { joinTexts, splitWords, WordTokenizer } from '#core/tokenizer.ts';

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
