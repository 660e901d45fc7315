<?php
/**
 * WordPress::runCron() of the local WordPress (tools/local/wordpress.ts runs `php cron.php DOCROOT`):
 * like wp-cron.php, in-process: every due event, then again while handlers queued more due ones.
 * Stops between events once its parent (the node process) is gone: it is never left looping alone.
 */

define('DOING_CRON', true);
require $argv[1] . '/wp-load.php';

$parent = function_exists('posix_getppid') ? posix_getppid() : 0;
$orphaned = function () use ($parent) {
    return $parent && posix_getppid() !== $parent;
};
for ($pass = 0; $pass < 20; $pass++) {
    if ($orphaned()) exit(3);
    $crons = _get_cron_array();
    $now = microtime(true);
    $ran = 0;
    foreach ($crons ?: [] as $timestamp => $cronhooks) {
        if ($timestamp > $now) break;
        foreach ($cronhooks as $hook => $keys) {
            foreach ($keys as $k => $v) {
                if ($v['schedule']) {
                    wp_reschedule_event($timestamp, $v['schedule'], $hook, $v['args']);
                }
                if ($orphaned()) exit(3);
                wp_unschedule_event($timestamp, $hook, $v['args']);
                do_action_ref_array($hook, $v['args']);
                $ran++;
            }
        }
    }
    if ($ran === 0) break;
}
