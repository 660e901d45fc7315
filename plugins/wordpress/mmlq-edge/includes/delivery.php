<?php
/**
 * Sending queued images from WP-cron, and the retry state machine.
 *
 * The queue is the attachments' `_mmlq_edge_status` meta (pending → sending → sent, pending again with a
 * later `_mmlq_edge_next_try` after a transient failure, or failed), not WP-cron's `cron` option: that
 * option is one autoloaded array that every cron run and every scheduling request rewrites from the copy
 * it loaded, so concurrent uploads and cron runs delete each other's events. A per-image
 * `mmlq_edge_send` event is only the fast path; the recurring `mmlq_edge_run_queue` event (every minute,
 * re-added on `init` whenever it is missing) sends whatever is pending and due, event or not. Each send
 * first claims its image with one conditional UPDATE (pending → sending), so two cron runs never send
 * the same image twice, and a cron run stops sending after MMLQ_EDGE_RUN_SECONDS so that it never holds
 * WP-cron's lock for minutes.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** What wp-webhook answers (200) when a delivery is done: anything else is retried. */
const MMLQ_EDGE_DONE_ANSWERS = array( 'scored', 'duplicate', 'rejected', 'gone' );
/** Cap of the retry backoff, seconds. */
const MMLQ_EDGE_MAX_BACKOFF = 21600;
/** Images the queue runner sends at most per run. */
const MMLQ_EDGE_RUN_BATCH = 10;
/** Seconds of sending per request (a cron run) after which no further send starts. */
const MMLQ_EDGE_RUN_SECONDS = 20;
/** A claim older than this many seconds (beyond the timeout) belongs to a request that died. */
const MMLQ_EDGE_STALE_CLAIM = 120;

/**
 * Adds the delivery's hooks.
 */
function mmlq_edge_register_delivery(): void {
	add_filter( 'cron_schedules', 'mmlq_edge_cron_schedules' ); // phpcs:ignore WordPress.WP.CronInterval -- every minute, like Action Scheduler.
	add_action( 'mmlq_edge_send', 'mmlq_edge_send' );
	add_action( 'mmlq_edge_run_queue', 'mmlq_edge_run_queue' );
	add_action( 'init', 'mmlq_edge_ensure_runner', 20 );
}

/**
 * The runner's schedule.
 *
 * @param array $schedules Schedules.
 */
function mmlq_edge_cron_schedules( $schedules ): array {
	$schedules                     = (array) $schedules;
	$schedules['mmlq_edge_minute'] = array(
		'interval' => MINUTE_IN_SECONDS,
		'display'  => __( 'Every minute (MMLQ Edge queue)', 'mmlq-edge' ),
	);
	return $schedules;
}

/**
 * Makes sure the recurring queue runner is scheduled (a concurrent rewrite of the cron option may have
 * dropped it).
 */
function mmlq_edge_ensure_runner(): void {
	if ( false === wp_next_scheduled( 'mmlq_edge_run_queue' ) ) {
		wp_schedule_event( time(), 'mmlq_edge_minute', 'mmlq_edge_run_queue' );
	}
}

/**
 * The retry delay after the n-th failed attempt: 60 s × 2^(n−1), at most 6 h.
 *
 * @param int $attempts Failed attempts so far (≥ 1).
 */
function mmlq_edge_backoff( int $attempts ): int {
	return (int) min( MMLQ_EDGE_MAX_BACKOFF, 60 * ( 2 ** max( 0, min( 20, $attempts - 1 ) ) ) );
}

/**
 * Whether this request may start another send: sending stops MMLQ_EDGE_RUN_SECONDS after the first one.
 */
function mmlq_edge_budget_left(): bool {
	static $started = null;
	if ( null === $started ) {
		$started = microtime( true );
	}
	/**
	 * Filters the seconds of sending per request (a WP-cron run) after which no further send starts.
	 *
	 * @param int $seconds Default 20.
	 */
	$limit = (int) apply_filters( 'mmlq_edge_run_seconds', MMLQ_EDGE_RUN_SECONDS );
	return microtime( true ) - $started < $limit;
}

/**
 * WP-cron handler of an image's own event (the fast path): delivers it if it is still pending and this
 * cron run has time left; otherwise the queue runner sends it.
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_send( $id ): void {
	$id = (int) $id;
	// An event scheduled before the image was tried (by the runner, in this or another cron run) must not
	// send it again before its next try; the retry has its own event.
	if ( (int) get_post_meta( $id, '_mmlq_edge_next_try', true ) > time() ) {
		return;
	}
	if ( mmlq_edge_budget_left() ) {
		mmlq_edge_deliver( $id );
	}
}

/**
 * WP-cron handler of the recurring runner: sends pending images whose next try is due, oldest first, at
 * most MMLQ_EDGE_RUN_BATCH of them and only while this run has time left.
 *
 * @return int How many images it tried to send.
 */
function mmlq_edge_run_queue(): int {
	if ( null !== mmlq_edge_not_ready_reason() ) {
		return 0;
	}
	mmlq_edge_release_stale_claims();
	/**
	 * Filters how many images one run of the queue runner sends at most.
	 *
	 * @param int $batch Default 10.
	 */
	$batch = max( 1, (int) apply_filters( 'mmlq_edge_run_batch', MMLQ_EDGE_RUN_BATCH ) );
	$tried = 0;
	foreach ( mmlq_edge_due_ids( $batch ) as $id ) {
		if ( ! mmlq_edge_budget_left() ) {
			break;
		}
		if ( mmlq_edge_deliver( $id ) ) {
			++$tried;
		}
	}
	return $tried;
}

/**
 * Pending images whose next try is due (or unset), oldest due first.
 *
 * @param int $limit How many.
 * @return int[]
 */
function mmlq_edge_due_ids( int $limit ): array {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$ids = $wpdb->get_col(
		$wpdb->prepare(
			"SELECT p.ID FROM {$wpdb->posts} p
			INNER JOIN {$wpdb->postmeta} s ON s.post_id = p.ID AND s.meta_key = '_mmlq_edge_status' AND s.meta_value = 'pending'
			LEFT JOIN {$wpdb->postmeta} t ON t.post_id = p.ID AND t.meta_key = '_mmlq_edge_next_try'
			WHERE p.post_type = 'attachment' AND ( t.meta_id IS NULL OR CAST( t.meta_value AS UNSIGNED ) <= %d )
			ORDER BY CAST( t.meta_value AS UNSIGNED ) ASC, p.ID ASC LIMIT %d",
			time(),
			$limit
		)
	);
	return array_map( 'intval', $ids );
}

/**
 * Claims (sending) whose request died are pending again.
 */
function mmlq_edge_release_stale_claims(): void {
	global $wpdb;
	$cutoff = time() - mmlq_edge_settings()['timeout'] - MMLQ_EDGE_STALE_CLAIM;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$ids = $wpdb->get_col(
		$wpdb->prepare(
			"SELECT s.post_id FROM {$wpdb->postmeta} s
			LEFT JOIN {$wpdb->postmeta} c ON c.post_id = s.post_id AND c.meta_key = '_mmlq_edge_claimed_at'
			WHERE s.meta_key = '_mmlq_edge_status' AND s.meta_value = 'sending'
			AND ( c.meta_id IS NULL OR CAST( c.meta_value AS UNSIGNED ) < %d ) LIMIT 100",
			$cutoff
		)
	);
	foreach ( array_map( 'intval', $ids ) as $id ) {
		mmlq_edge_set_status_if( $id, 'sending', 'pending' );
	}
}

/**
 * Moves an image's status from $from to $to only if it is still $from (one UPDATE, so of two requests
 * only one succeeds).
 *
 * @param int    $id   Attachment ID.
 * @param string $from Expected status.
 * @param string $to   New status.
 * @return bool Whether this call moved it.
 */
function mmlq_edge_set_status_if( int $id, string $from, string $to ): bool {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$rows = $wpdb->query(
		$wpdb->prepare(
			"UPDATE {$wpdb->postmeta} SET meta_value = %s WHERE post_id = %d AND meta_key = '_mmlq_edge_status' AND meta_value = %s",
			$to,
			$id,
			$from
		)
	);
	wp_cache_delete( $id, 'post_meta' );
	return is_int( $rows ) && $rows > 0;
}

/**
 * Claims a pending image and delivers it, recording the outcome.
 *
 * @param int $id Attachment ID.
 * @return bool Whether a delivery was attempted.
 */
function mmlq_edge_deliver( int $id ): bool {
	if ( ! mmlq_edge_is_image( $id ) ) {
		return false;
	}
	if ( 'pending' !== mmlq_edge_state( $id )['status'] ) {
		return false;
	}
	$reason = mmlq_edge_not_ready_reason();
	if ( null !== $reason ) {
		// Stays pending (no attempt counted); sent once the settings allow sending.
		update_post_meta( $id, '_mmlq_edge_last_error', 'NOT_CONFIGURED: ' . $reason );
		return false;
	}
	if ( ! mmlq_edge_set_status_if( $id, 'pending', 'sending' ) ) {
		return false; // Another request claimed it.
	}
	update_post_meta( $id, '_mmlq_edge_claimed_at', time() );
	$state   = mmlq_edge_state( $id );
	$payload = mmlq_edge_payload( '' !== $state['event'] ? $state['event'] : 'attachment.upload', $id );
	if ( is_wp_error( $payload ) ) {
		mmlq_edge_fail( $id, $state['attempts'] + 1, $payload->get_error_code() . ': ' . $payload->get_error_message() );
		return true;
	}
	// The file's checksum as sent: a later change of the file queues a rescore.
	update_post_meta( $id, '_mmlq_edge_sha256', $payload['attachment']['sha256'] );
	$result   = mmlq_edge_post( $payload );
	$code     = $result['code'];
	$attempts = $state['attempts'] + 1;
	$summary = mmlq_edge_response_summary( $result );
	update_post_meta( $id, '_mmlq_edge_last_response', $summary );
	if ( $code >= 200 && $code < 300 && ! in_array( $summary, MMLQ_EDGE_DONE_ANSWERS, true ) ) {
		// A 2xx that is not the function's answer (a proxy's page, an emulator's timeout body): not done.
		$code            = 502;
		$result['error'] = sprintf(
			/* translators: %s: the HTTP status and what was answered. */
			__( 'unexpected answer (%s): expected one of scored, duplicate, rejected, gone', 'mmlq-edge' ),
			'HTTP ' . $result['code'] . ', ' . mmlq_edge_clip( (string) $result['body'], 200 )
		);
	}
	if ( $code >= 200 && $code < 300 ) {
		mmlq_edge_finish(
			$id,
			'sent',
			array(
				'_mmlq_edge_attempts'   => 0,
				'_mmlq_edge_last_error' => '',
			)
		);
		return true;
	}
	$transient = 0 === $code || 429 === $code || $code >= 500;
	if ( ! $transient ) {
		mmlq_edge_fail( $id, $attempts, $result['error'] );
		return true;
	}
	if ( $attempts >= mmlq_edge_settings()['max_attempts'] ) {
		/* translators: 1: number of attempts, 2: the last error. */
		mmlq_edge_fail( $id, $attempts, sprintf( _n( 'gave up after %1$s attempt; last: %2$s', 'gave up after %1$s attempts; last: %2$s', $attempts, 'mmlq-edge' ), number_format_i18n( $attempts ), $result['error'] ) );
		return true;
	}
	$when = time() + max( mmlq_edge_backoff( $attempts ), min( MMLQ_EDGE_MAX_BACKOFF, $result['retry_after'] ) );
	$ours = mmlq_edge_finish(
		$id,
		'pending',
		array(
			'_mmlq_edge_attempts'   => $attempts,
			'_mmlq_edge_last_error' => $result['error'],
			'_mmlq_edge_next_try'   => $when,
		)
	);
	if ( $ours ) {
		mmlq_edge_schedule( $id, $when );
	}
	return true;
}

/**
 * Ends a claim: the status and its details, unless the image was queued again while it was being sent
 * (then it stays pending, to be sent again with what changed).
 *
 * @param int                  $id     Attachment ID.
 * @param string               $status New status.
 * @param array<string, mixed> $meta   Meta to write with it.
 * @return bool Whether the claim was still ours.
 */
function mmlq_edge_finish( int $id, string $status, array $meta ): bool {
	if ( ! mmlq_edge_set_status_if( $id, 'sending', $status ) ) {
		return false;
	}
	foreach ( $meta as $key => $value ) {
		update_post_meta( $id, $key, $value );
	}
	return true;
}

/**
 * Marks a delivery failed (shown in the media library with a Retry link).
 *
 * @param int    $id       Attachment ID.
 * @param int    $attempts Attempts made.
 * @param string $error    What went wrong.
 */
function mmlq_edge_fail( int $id, int $attempts, string $error ): void {
	$ours = mmlq_edge_finish(
		$id,
		'failed',
		array(
			'_mmlq_edge_attempts'   => $attempts,
			'_mmlq_edge_last_error' => $error,
		)
	);
	if ( $ours ) {
		wp_clear_scheduled_hook( 'mmlq_edge_send', array( $id ) );
	}
}
