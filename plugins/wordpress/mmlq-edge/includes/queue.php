<?php
/**
 * The delivery queue: which changes queue an image (upload, text changes, a changed file, a deleted
 * image), marking it pending and due (post meta: the queue itself), and the per-image WP-cron event
 * that sends it soon (the fast path; includes/delivery.php's runner sends whatever that event misses).
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the queue's hooks.
 */
function mmlq_edge_register_queue(): void {
	add_action( 'add_attachment', 'mmlq_edge_on_add_attachment' );
	add_action( 'attachment_updated', 'mmlq_edge_on_attachment_updated', 10, 3 );
	add_action( 'added_post_meta', 'mmlq_edge_on_alt_changed', 10, 3 );
	add_action( 'updated_post_meta', 'mmlq_edge_on_alt_changed', 10, 3 );
	add_action( 'deleted_post_meta', 'mmlq_edge_on_alt_changed', 10, 3 );
	add_action( 'mmlq_edge_reschedule', 'mmlq_edge_reschedule_pending' );
	add_action( 'delete_attachment', 'mmlq_edge_on_delete_attachment' );
	add_filter( 'wp_update_attachment_metadata', 'mmlq_edge_on_metadata_updated', 10, 2 );
	add_action( 'updated_post_meta', 'mmlq_edge_on_file_meta_changed', 10, 3 );
}

/**
 * The image's metadata was saved (Edit Image, a replaced file, regenerated sizes): rescore if the file
 * itself changed.
 *
 * @param mixed $data Metadata (returned as it is).
 * @param int   $id   Attachment ID.
 * @return mixed
 */
function mmlq_edge_on_metadata_updated( $data, $id ) {
	mmlq_edge_requeue_if_file_changed( (int) $id );
	return $data;
}

/**
 * The attachment's file path changed (Edit Image saves a new file, update_attached_file()).
 *
 * @param int|int[] $meta_id   Meta ID(s).
 * @param int       $object_id Post ID.
 * @param string    $meta_key  Meta key.
 */
function mmlq_edge_on_file_meta_changed( $meta_id, $object_id, $meta_key ): void {
	if ( '_wp_attached_file' === $meta_key ) {
		mmlq_edge_requeue_if_file_changed( (int) $object_id );
	}
}

/**
 * Queues a rescore when the file's SHA-256 differs from the one last sent. Nothing to do for an image
 * never sent (its first delivery reads the file) or already pending (its delivery will).
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_requeue_if_file_changed( int $id ): void {
	if ( ! mmlq_edge_is_image( $id ) || ! mmlq_edge_settings()['enabled'] ) {
		return;
	}
	$sent = (string) get_post_meta( $id, '_mmlq_edge_sha256', true );
	if ( '' === $sent || 'pending' === mmlq_edge_state( $id )['status'] ) {
		return;
	}
	$file = get_attached_file( $id );
	if ( ! $file || ! is_readable( $file ) ) {
		return;
	}
	$now = hash_file( 'sha256', $file );
	if ( is_string( $now ) && ! hash_equals( $sent, $now ) ) {
		mmlq_edge_queue( $id, 'attachment.rescore' );
	}
}

/**
 * A deleted image leaves no event behind.
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_on_delete_attachment( $id ): void {
	wp_clear_scheduled_hook( 'mmlq_edge_send', array( (int) $id ) );
}

/**
 * A new image: queued for a cron run (not sent in the upload request, whose caption and alt text are
 * saved after this hook).
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_on_add_attachment( $id ): void {
	$id = (int) $id;
	if ( ! mmlq_edge_is_image( $id ) || ! mmlq_edge_settings()['enabled'] ) {
		return;
	}
	mmlq_edge_queue( $id, 'attachment.upload' );
}

/**
 * Title, caption or description changed: the texts the model reads changed, so queue it again.
 *
 * @param int     $id     Attachment ID.
 * @param WP_Post $after  After the update.
 * @param WP_Post $before Before the update.
 */
function mmlq_edge_on_attachment_updated( $id, $after, $before ): void {
	if ( ! $after instanceof WP_Post || ! $before instanceof WP_Post ) {
		return;
	}
	if ( $after->post_title === $before->post_title && $after->post_excerpt === $before->post_excerpt && $after->post_content === $before->post_content ) {
		return;
	}
	mmlq_edge_requeue_for_text( (int) $id );
}

/**
 * Alt text added, changed or removed.
 *
 * @param int|int[] $meta_id   Meta ID(s).
 * @param int       $object_id Post ID.
 * @param string    $meta_key  Meta key.
 */
function mmlq_edge_on_alt_changed( $meta_id, $object_id, $meta_key ): void {
	if ( '_wp_attachment_image_alt' === $meta_key ) {
		mmlq_edge_requeue_for_text( (int) $object_id );
	}
}

/**
 * Queues an image whose texts changed (rescore when it was delivered before).
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_requeue_for_text( int $id ): void {
	if ( ! mmlq_edge_is_image( $id ) || ! mmlq_edge_settings()['enabled'] ) {
		return;
	}
	mmlq_edge_queue( $id, mmlq_edge_event_for( $id ) );
}

/**
 * Which event a (re)delivery is: `attachment.rescore` once the image was delivered or scored, else the
 * pending event or `attachment.upload`.
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_event_for( int $id ): string {
	$state = mmlq_edge_state( $id );
	if ( mmlq_edge_has_score( $id ) || 'sent' === $state['status'] || '' !== (string) get_post_meta( $id, 'mmlq_key', true ) ) {
		return 'attachment.rescore';
	}
	return 'attachment.rescore' === $state['event'] ? 'attachment.rescore' : 'attachment.upload';
}

/**
 * Marks an image pending and due now, and makes sure an `mmlq_edge_send` event for it is due now. An
 * event that is already due is kept (so an upload and its alt text make one delivery); a backoff event
 * is moved up. The image is queued even if the event is lost (see includes/delivery.php).
 *
 * @param int    $id    Attachment ID.
 * @param string $event `attachment.upload` or `attachment.rescore`.
 * @return bool Whether the image is queued.
 */
function mmlq_edge_queue( int $id, string $event ): bool {
	if ( ! mmlq_edge_is_image( $id ) ) {
		return false;
	}
	update_post_meta( $id, '_mmlq_edge_status', 'pending' );
	update_post_meta( $id, '_mmlq_edge_event', $event );
	update_post_meta( $id, '_mmlq_edge_attempts', 0 );
	update_post_meta( $id, '_mmlq_edge_last_error', '' );
	update_post_meta( $id, '_mmlq_edge_next_try', time() );
	mmlq_edge_schedule( $id, time() );
	mmlq_edge_ensure_runner();
	return true;
}

/**
 * Schedules the send event at $when unless one is already due by then.
 *
 * @param int $id   Attachment ID.
 * @param int $when Unix time.
 */
function mmlq_edge_schedule( int $id, int $when ): bool {
	$args = array( $id );
	$next = wp_next_scheduled( 'mmlq_edge_send', $args );
	if ( false !== $next && $next <= $when ) {
		return true;
	}
	if ( false !== $next ) {
		wp_unschedule_event( $next, 'mmlq_edge_send', $args );
	}
	$scheduled = wp_schedule_single_event( $when, 'mmlq_edge_send', $args, true );
	if ( is_wp_error( $scheduled ) ) {
		update_post_meta( $id, '_mmlq_edge_last_error', 'SCHEDULE: ' . $scheduled->get_error_message() );
		return false;
	}
	return (bool) $scheduled;
}

/**
 * Gives every pending image without an event one (after activation, or once sending is possible), 50
 * per call in ID order: a further batch continues in its own WP-cron run (`mmlq_edge_reschedule`).
 *
 * @param int $after_id Cursor: only images with a larger ID (the cron continuation passes it).
 * @return int How many events were scheduled by this call.
 */
function mmlq_edge_reschedule_pending( $after_id = 0 ): int {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$ids   = array_map(
		'intval',
		$wpdb->get_col(
			$wpdb->prepare(
				"SELECT p.ID FROM {$wpdb->posts} p
				INNER JOIN {$wpdb->postmeta} m ON m.post_id = p.ID AND m.meta_key = '_mmlq_edge_status' AND m.meta_value = 'pending'
				WHERE p.post_type = 'attachment' AND p.ID > %d
				ORDER BY p.ID ASC LIMIT %d",
				absint( $after_id ),
				MMLQ_EDGE_BACKFILL_BATCH
			)
		)
	);
	$count = 0;
	foreach ( $ids as $id ) {
		if ( false === wp_next_scheduled( 'mmlq_edge_send', array( $id ) ) && mmlq_edge_schedule( $id, time() ) ) {
			++$count;
		}
	}
	if ( count( $ids ) === MMLQ_EDGE_BACKFILL_BATCH ) {
		wp_schedule_single_event( time(), 'mmlq_edge_reschedule', array( end( $ids ) ) );
	}
	return $count;
}
