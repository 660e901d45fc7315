<?php
/**
 * Sending one queued image from WP-cron, and the retry state machine: sent, retried with exponential
 * backoff (pending), or failed.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** Cap of the retry backoff, seconds. */
const MMLQ_EDGE_MAX_BACKOFF = 21600;

/**
 * Adds the delivery's hooks.
 */
function mmlq_edge_register_delivery(): void {
	add_action( 'mmlq_edge_send', 'mmlq_edge_send' );
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
 * WP-cron handler: delivers one pending image and records the outcome.
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_send( $id ): void {
	$id = (int) $id;
	if ( ! mmlq_edge_is_image( $id ) ) {
		return;
	}
	$state = mmlq_edge_state( $id );
	if ( 'pending' !== $state['status'] ) {
		return;
	}
	$reason = mmlq_edge_not_ready_reason();
	if ( null !== $reason ) {
		// Stays pending (no attempt counted); rescheduled once the settings allow sending.
		update_post_meta( $id, '_mmlq_edge_last_error', 'NOT_CONFIGURED: ' . $reason );
		return;
	}
	$payload = mmlq_edge_payload( '' !== $state['event'] ? $state['event'] : 'attachment.upload', $id );
	if ( is_wp_error( $payload ) ) {
		mmlq_edge_fail( $id, $state['attempts'] + 1, $payload->get_error_code() . ': ' . $payload->get_error_message() );
		return;
	}
	$result   = mmlq_edge_post( $payload );
	$code     = $result['code'];
	$attempts = $state['attempts'] + 1;
	update_post_meta( $id, '_mmlq_edge_last_response', mmlq_edge_response_summary( $result ) );
	if ( $code >= 200 && $code < 300 ) {
		update_post_meta( $id, '_mmlq_edge_status', 'sent' );
		update_post_meta( $id, '_mmlq_edge_attempts', 0 );
		update_post_meta( $id, '_mmlq_edge_last_error', '' );
		return;
	}
	$transient = 0 === $code || 429 === $code || $code >= 500;
	if ( ! $transient ) {
		mmlq_edge_fail( $id, $attempts, $result['error'] );
		return;
	}
	if ( $attempts >= mmlq_edge_settings()['max_attempts'] ) {
		/* translators: 1: attempts, 2: the last error. */
		mmlq_edge_fail( $id, $attempts, sprintf( __( 'gave up after %1$d attempts; last: %2$s', 'mmlq-edge' ), $attempts, $result['error'] ) );
		return;
	}
	update_post_meta( $id, '_mmlq_edge_attempts', $attempts );
	update_post_meta( $id, '_mmlq_edge_last_error', $result['error'] );
	$delay = max( mmlq_edge_backoff( $attempts ), min( MMLQ_EDGE_MAX_BACKOFF, $result['retry_after'] ) );
	mmlq_edge_schedule( $id, time() + $delay );
}

/**
 * Marks a delivery failed (shown in the media library with a Retry link).
 *
 * @param int    $id       Attachment ID.
 * @param int    $attempts Attempts made.
 * @param string $error    What went wrong.
 */
function mmlq_edge_fail( int $id, int $attempts, string $error ): void {
	update_post_meta( $id, '_mmlq_edge_status', 'failed' );
	update_post_meta( $id, '_mmlq_edge_attempts', $attempts );
	update_post_meta( $id, '_mmlq_edge_last_error', $error );
	wp_clear_scheduled_hook( 'mmlq_edge_send', array( $id ) );
}
