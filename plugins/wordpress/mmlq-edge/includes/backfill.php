<?php
/**
 * "Score all unscored images": queues the library in batches from WP-cron. The same run in mode `older`
 * ("Rescore images an older model scored") queues the images whose score came from another model
 * version than the newest score's: after the scorer's model changes, its new scores and the old ones are
 * not on one scale, yet the library tiers rank them together until the old ones are rescored.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** Images per backfill batch (and per rescheduling batch). */
const MMLQ_EDGE_BACKFILL_BATCH = 50;
/** The backfill queues its next batch only while fewer images than this are pending. */
const MMLQ_EDGE_BACKFILL_MAX_PENDING = 100;

/**
 * Adds the backfill's hooks.
 */
function mmlq_edge_register_backfill(): void {
	add_action( 'mmlq_edge_backfill', 'mmlq_edge_backfill_batch' );
}

/**
 * Image attachments without a score, after $after_id, in ID order.
 *
 * @param int $after_id Cursor.
 * @param int $limit    How many.
 * @return int[]
 */
function mmlq_edge_unscored_ids( int $after_id, int $limit ): array {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$ids = $wpdb->get_col(
		$wpdb->prepare(
			"SELECT p.ID FROM {$wpdb->posts} p
			LEFT JOIN {$wpdb->postmeta} m ON m.post_id = p.ID AND m.meta_key = 'mmlq_score'
			WHERE p.post_type = 'attachment' AND p.post_mime_type LIKE %s AND p.ID > %d AND m.meta_id IS NULL
			ORDER BY p.ID ASC LIMIT %d",
			$wpdb->esc_like( 'image/' ) . '%',
			$after_id,
			$limit
		)
	);
	return array_map( 'intval', $ids );
}

/**
 * How many image attachments have no score.
 */
function mmlq_edge_unscored_count(): int {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	return (int) $wpdb->get_var(
		$wpdb->prepare(
			"SELECT COUNT(*) FROM {$wpdb->posts} p
			LEFT JOIN {$wpdb->postmeta} m ON m.post_id = p.ID AND m.meta_key = 'mmlq_score'
			WHERE p.post_type = 'attachment' AND p.post_mime_type LIKE %s AND m.meta_id IS NULL",
			$wpdb->esc_like( 'image/' ) . '%'
		)
	);
}

/**
 * The model versions (`name@version`) of the stored scores, with how many images each scored, most first.
 *
 * @return array<string, int>
 */
function mmlq_edge_scored_models(): array {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$rows = $wpdb->get_results(
		"SELECT mm.meta_value AS model, COUNT(*) AS n FROM {$wpdb->postmeta} mm
		JOIN {$wpdb->postmeta} m ON m.post_id = mm.post_id AND m.meta_key = 'mmlq_score'
		WHERE mm.meta_key = 'mmlq_model' AND mm.meta_value <> ''
		GROUP BY mm.meta_value ORDER BY n DESC, model ASC",
		ARRAY_A
	);
	$out = array();
	foreach ( (array) $rows as $row ) {
		$out[ (string) $row['model'] ] = (int) $row['n'];
	}
	return $out;
}

/**
 * The model version of the newest score (by `mmlq_scored_at`): the one the scorer runs now. '' before any.
 */
function mmlq_edge_newest_model(): string {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	return (string) $wpdb->get_var(
		"SELECT mm.meta_value FROM {$wpdb->postmeta} mm
		JOIN {$wpdb->postmeta} t ON t.post_id = mm.post_id AND t.meta_key = 'mmlq_scored_at'
		JOIN {$wpdb->postmeta} m ON m.post_id = mm.post_id AND m.meta_key = 'mmlq_score'
		WHERE mm.meta_key = 'mmlq_model' AND mm.meta_value <> ''
		ORDER BY t.meta_value DESC, mm.post_id DESC LIMIT 1"
	);
}

/**
 * Scored image attachments whose score came from another model version than `$model`, after $after_id,
 * in ID order.
 *
 * @param string $model    The model version to keep (the newest score's).
 * @param int    $after_id Cursor.
 * @param int    $limit    How many.
 * @return int[]
 */
function mmlq_edge_older_model_ids( string $model, int $after_id, int $limit ): array {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$ids = $wpdb->get_col(
		$wpdb->prepare(
			"SELECT p.ID FROM {$wpdb->posts} p
			JOIN {$wpdb->postmeta} m ON m.post_id = p.ID AND m.meta_key = 'mmlq_score'
			JOIN {$wpdb->postmeta} mm ON mm.post_id = p.ID AND mm.meta_key = 'mmlq_model'
			WHERE p.post_type = 'attachment' AND p.post_mime_type LIKE %s AND p.ID > %d AND mm.meta_value <> %s
			ORDER BY p.ID ASC LIMIT %d",
			$wpdb->esc_like( 'image/' ) . '%',
			$after_id,
			$model,
			$limit
		)
	);
	return array_map( 'intval', $ids );
}

/**
 * How many scored images another model version than the newest score's scored, from what
 * mmlq_edge_scored_models() and mmlq_edge_newest_model() returned (callers have both at hand).
 *
 * @param array<string, int> $models The model versions of the stored scores, with their counts.
 * @param string             $newest The newest score's model version ('' before any).
 */
function mmlq_edge_older_model_count( array $models, string $newest ): int {
	if ( '' === $newest ) {
		return 0;
	}
	$n = 0;
	foreach ( $models as $model => $count ) {
		$n += $model === $newest ? 0 : $count;
	}
	return $n;
}

/**
 * Starts the backfill, 50 images per cron run: every image without a score (mode `unscored`), or every
 * image another model version than the newest score's scored (mode `older`).
 *
 * @param string $mode `unscored` or `older`.
 */
function mmlq_edge_start_backfill( string $mode = 'unscored' ): void {
	$mode  = 'older' === $mode ? 'older' : 'unscored';
	$model = 'older' === $mode ? mmlq_edge_newest_model() : '';
	update_option(
		'mmlq_edge_backfill',
		array(
			'state'    => 'running',
			'mode'     => $mode,
			'model'    => $model,
			'cursor'   => 0,
			'queued'   => 0,
			'total'    => 'older' === $mode ? mmlq_edge_older_model_count( mmlq_edge_scored_models(), $model ) : mmlq_edge_unscored_count(),
			'started'  => time(),
			'finished' => 0,
		),
		false
	);
	wp_clear_scheduled_hook( 'mmlq_edge_backfill' );
	wp_schedule_single_event( time(), 'mmlq_edge_backfill' );
}

/**
 * WP-cron handler: queues the next batch of unscored images.
 */
function mmlq_edge_backfill_batch(): void {
	$state = get_option( 'mmlq_edge_backfill' );
	if ( ! is_array( $state ) || 'running' !== ( $state['state'] ?? '' ) ) {
		return;
	}
	// One send event per queued image: while earlier batches wait (a slow or failing endpoint, or one
	// not configured yet) the next batch waits too, so the cron option stays small on a large library.
	if ( mmlq_edge_pending_count() >= MMLQ_EDGE_BACKFILL_MAX_PENDING ) {
		wp_schedule_single_event( time() + MINUTE_IN_SECONDS, 'mmlq_edge_backfill' );
		return;
	}
	if ( 'older' === ( $state['mode'] ?? '' ) ) {
		// No score yet when it started: nothing is older than nothing.
		$ids = '' === (string) $state['model'] ? array() : mmlq_edge_older_model_ids( (string) $state['model'], (int) $state['cursor'], MMLQ_EDGE_BACKFILL_BATCH );
	} else {
		$ids = mmlq_edge_unscored_ids( (int) $state['cursor'], MMLQ_EDGE_BACKFILL_BATCH );
	}
	foreach ( $ids as $id ) {
		mmlq_edge_queue( $id, mmlq_edge_event_for( $id ) );
		$state['cursor'] = $id;
		++$state['queued'];
	}
	if ( count( $ids ) < MMLQ_EDGE_BACKFILL_BATCH ) {
		$state['state']    = 'done';
		$state['finished'] = time();
	} else {
		wp_schedule_single_event( time(), 'mmlq_edge_backfill' );
	}
	update_option( 'mmlq_edge_backfill', $state, false );
}
