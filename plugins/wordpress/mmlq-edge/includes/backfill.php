<?php
/**
 * "Score all unscored images": queues the library in batches from WP-cron.
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
 * Starts the backfill: every image without a score is queued, 50 per cron run.
 */
function mmlq_edge_start_backfill(): void {
	update_option(
		'mmlq_edge_backfill',
		array(
			'state'    => 'running',
			'cursor'   => 0,
			'queued'   => 0,
			'total'    => mmlq_edge_unscored_count(),
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
	$ids = mmlq_edge_unscored_ids( (int) $state['cursor'], MMLQ_EDGE_BACKFILL_BATCH );
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
