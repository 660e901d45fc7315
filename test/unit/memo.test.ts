import { describe, expect, it } from 'vitest';
import { memo, memoOne } from '#core/common/memo.ts';

describe('memo', () => {
  it('shares one promise between concurrent callers of the same key', async () => {
    let loads = 0;
    const m = memo(async (k: string) => `${k}#${++loads}`);
    const [a, b] = await Promise.all([m.get('x'), m.get('x')]);
    expect([a, b, await m.get('y')]).toEqual(['x#1', 'x#1', 'y#2']);
  });

  it('evicts a rejected load so that the next call retries, also for a synchronous throw', async () => {
    let calls = 0;
    const get = memoOne(() => {
      calls++;
      if (calls === 1) throw new Error('cold start failed');
      return Promise.resolve(calls);
    });
    await expect(get()).rejects.toThrow('cold start failed');
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
  });

  it('reloads a value older than ttlMs and keeps a younger one', async () => {
    let t = 0;
    let loads = 0;
    const get = memoOne(async () => ++loads, { ttlMs: 100, now: () => t });
    expect(await get()).toBe(1);
    t = 100;
    expect(await get()).toBe(1);
    t = 101;
    expect(await get()).toBe(2);
  });

  it('drain() hands over the held promises and forgets them', async () => {
    let loads = 0;
    const m = memo(async (k: number) => k * 10 + ++loads);
    await m.get(1);
    const held = m.drain();
    expect(await Promise.all(held)).toEqual([11]);
    expect(await m.get(1)).toBe(12);
  });
});
