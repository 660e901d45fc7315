/**
 * Score semantics, all pure: distribution → mean and std on the model's scale, calibration → percentile,
 * percentile → tier. The percentile is what makes scores comparable across models: it is the share of
 * the model's reference set that scores below the image (see each model card for its reference set).
 */
import { invalid, mismatch, numberInRange } from '../common/validate.ts';

export const TIERS = ['top', 'good', 'average', 'low'] as const;
export type Tier = (typeof TIERS)[number];

/** Lower bounds on the percentile for each tier above `low`. */
export interface TierThresholds {
  top: number;
  good: number;
  average: number;
}

export const DEFAULT_TIER_THRESHOLDS: Readonly<TierThresholds> = Object.freeze({
  top: 90,
  good: 60,
  average: 25,
});

export function resolveThresholds(partial: Partial<TierThresholds> = {}): TierThresholds {
  const t = {
    top: numberInRange('tiers.top', partial.top ?? DEFAULT_TIER_THRESHOLDS.top, 0, 100),
    good: numberInRange('tiers.good', partial.good ?? DEFAULT_TIER_THRESHOLDS.good, 0, 100),
    average: numberInRange('tiers.average', partial.average ?? DEFAULT_TIER_THRESHOLDS.average, 0, 100),
  };
  if (!(t.top > t.good && t.good > t.average)) {
    throw mismatch(
      'tiers',
      'thresholds with top > good > average',
      `top=${t.top}, good=${t.good}, average=${t.average}`,
    );
  }
  return t;
}

/** Parses "top=90,good=60,average=25" (any subset) into thresholds. */
export function parseThresholds(text: string): TierThresholds {
  const partial: Partial<TierThresholds> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if (key !== 'top' && key !== 'good' && key !== 'average')
      throw invalid('tiers', 'keys top, good or average', key);
    partial[key] = Number(value);
  }
  return resolveThresholds(partial);
}

export interface DistributionStats {
  mean: number;
  std: number;
}

/** Mean and standard deviation of a discrete distribution over `binValues` (renormalised). */
export function distributionStats(
  probabilities: ArrayLike<number>,
  binValues: readonly number[],
): DistributionStats {
  if (probabilities.length !== binValues.length) {
    throw mismatch('distribution', `${binValues.length} probabilities`, `${probabilities.length}`);
  }
  let total = 0;
  let mean = 0;
  for (let i = 0; i < binValues.length; i++) {
    total += probabilities[i]!;
    mean += probabilities[i]! * binValues[i]!;
  }
  mean /= total;
  let variance = 0;
  for (let i = 0; i < binValues.length; i++)
    variance += (probabilities[i]! / total) * (binValues[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(variance) };
}

/** Piecewise-linear interpolation of (score, percentile) points, clamped to [0, 100]. */
export function percentileOf(score: number, points: readonly (readonly [number, number])[]): number {
  const first = points[0]!;
  const last = points[points.length - 1]!;
  if (score <= first[0]) return first[1];
  if (score >= last[0]) return last[1];
  for (let i = 1; i < points.length; i++) {
    const [s1, p1] = points[i]!;
    if (score <= s1) {
      const [s0, p0] = points[i - 1]!;
      return p0 + ((score - s0) / (s1 - s0)) * (p1 - p0);
    }
  }
  return last[1];
}

export function tierOf(percentile: number, thresholds: TierThresholds): Tier {
  if (percentile >= thresholds.top) return 'top';
  if (percentile >= thresholds.good) return 'good';
  if (percentile >= thresholds.average) return 'average';
  return 'low';
}
