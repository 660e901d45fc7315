import { describe, expect, it } from 'vitest';
import {
  distributionStats,
  parseThresholds,
  percentileOf,
  resolveThresholds,
  tierOf,
} from '#core/model/scores.ts';

const BINS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

describe('distributionStats', () => {
  it('gives the mean and std of a 10-bin distribution on the 1-10 scale', () => {
    const one = distributionStats([0, 0, 0, 0, 1, 0, 0, 0, 0, 0], BINS);
    expect(one).toEqual({ mean: 5, std: 0 });
    const uniform = distributionStats(new Array(10).fill(0.1), BINS);
    expect(uniform.mean).toBeCloseTo(5.5, 10);
    expect(uniform.std).toBeCloseTo(Math.sqrt(8.25), 10);
    const split = distributionStats([0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.5], BINS);
    expect(split.mean).toBeCloseTo(5.5, 10);
    expect(split.std).toBeCloseTo(4.5, 10);
  });

  it('renormalises a distribution that does not sum to one', () => {
    expect(distributionStats([0, 2, 0, 0, 0, 0, 0, 0, 0, 2], BINS).mean).toBeCloseTo(6, 10);
  });

  it('rejects a distribution with the wrong number of bins', () => {
    expect(() => distributionStats([1, 0], BINS)).toThrow(
      'Expected 10 probabilities for distribution but received 2',
    );
  });
});

describe('percentileOf', () => {
  const points = [
    [3, 0],
    [5, 50],
    [7, 100],
  ] as const;
  it('interpolates linearly between calibration points and clamps outside them', () => {
    expect(percentileOf(2, points)).toBe(0);
    expect(percentileOf(3, points)).toBe(0);
    expect(percentileOf(4, points)).toBe(25);
    expect(percentileOf(6.5, points)).toBe(87.5);
    expect(percentileOf(9, points)).toBe(100);
  });
});

describe('tiers', () => {
  it('maps percentiles to top/good/average/low with the default thresholds 90/60/25', () => {
    const t = resolveThresholds();
    expect([95, 90, 89.9, 60, 59, 25, 24.9, 0].map((p) => tierOf(p, t))).toEqual([
      'top',
      'top',
      'good',
      'good',
      'average',
      'average',
      'low',
      'low',
    ]);
  });

  it('accepts custom thresholds and rejects ones out of order or range', () => {
    expect(parseThresholds('top=95, good=70')).toEqual({ top: 95, good: 70, average: 25 });
    expect(() => parseThresholds('top=50,good=60')).toThrow(
      'Expected thresholds with top > good > average for tiers but received top=50, good=60, average=25',
    );
    expect(() => resolveThresholds({ top: 120 })).toThrow(
      'Expected number between 0 and 100 for tiers.top but received 120 of type number',
    );
    expect(() => parseThresholds('best=99')).toThrow(
      'Expected keys top, good or average for tiers but received "best" of type string',
    );
  });
});
