/**
 * The WP-cron runner of the local WordPress (tools/local/wordpress.ts) never outlives stop(): a cron
 * pass still running (here a hook that never returns, as a delivery stuck on a dead socket) is ended
 * before the servers it talks to, and nothing runs after stop().
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWordPress, type WordPress } from '#tools/local/wordpress.ts';
import { eventually } from '../helpers/poll.ts';
import { alive, processes } from '../helpers/processes.ts';

let wp: WordPress;

/** PHP processes running a cron pass of this test's WordPress (php ... tools/local/php/cron.php DOCROOT). */
function cronRunners(): number[] {
  return processes()
    .filter(({ args }) => args.some((a) => a.endsWith('/cron.php')) && args.includes(wp.docroot))
    .map(({ pid }) => pid);
}

beforeAll(async () => {
  wp = await startWordPress();
  await writeFile(
    join(wp.docroot, 'wp-content/mu-plugins/spin.php'),
    "<?php add_action('mmlq_test_spin', function () { for (;;) { sleep(1); } });\n",
  );
});

afterAll(async () => {
  await wp?.stop();
});

describe('local WordPress: the WP-cron runner', () => {
  it('stop() ends a cron pass that is still running, and runCron() after stop() refuses', async () => {
    await wp.php("wp_schedule_single_event(time() - 1, 'mmlq_test_spin');");
    const pass = wp.runCron().catch((e: Error) => e);
    const runner = await eventually('the cron runner', async () => cronRunners()[0], 20_000);
    expect(runner).toBeGreaterThan(0);
    await wp.stop();
    expect(alive(runner)).toBe(false);
    expect(cronRunners()).toEqual([]);
    expect(await pass).toBeInstanceOf(Error);
    await expect(wp.runCron()).rejects.toThrow('WordPress is stopped');
  });
});
