<?php
/**
 * Deliveries: queueing (on upload, on text changes, on request), the signed webhook POST from WP-cron,
 * retries with exponential backoff, and the "score all unscored images" backfill.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** Cap of the retry backoff, seconds. */
const MMLQ_EDGE_MAX_BACKOFF = 21600;
/** Images per backfill batch (and per rescheduling batch). */
const MMLQ_EDGE_BACKFILL_BATCH = 50;
/** The backfill queues its next batch only while fewer images than this are pending. */
const MMLQ_EDGE_BACKFILL_MAX_PENDING = 100;
/** Bytes of an answer read at most (answers are small JSON). */
const MMLQ_EDGE_MAX_RESPONSE_BYTES = 65536;

add_action( 'add_attachment', 'mmlq_edge_on_add_attachment' );
add_action( 'attachment_updated', 'mmlq_edge_on_attachment_updated', 10, 3 );
add_action( 'added_post_meta', 'mmlq_edge_on_alt_changed', 10, 3 );
add_action( 'updated_post_meta', 'mmlq_edge_on_alt_changed', 10, 3 );
add_action( 'deleted_post_meta', 'mmlq_edge_on_alt_changed', 10, 3 );
add_action( 'mmlq_edge_send', 'mmlq_edge_send' );
add_action( 'mmlq_edge_backfill', 'mmlq_edge_backfill_batch' );
add_action( 'mmlq_edge_reschedule', 'mmlq_edge_reschedule_pending' );
add_action( 'delete_attachment', 'mmlq_edge_on_delete_attachment' );

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
 * Marks an image pending and makes sure an `mmlq_edge_send` event for it is due now. An event that is
 * already due is kept (so an upload and its alt text make one delivery); a backoff event is moved up.
 *
 * @param int    $id    Attachment ID.
 * @param string $event `attachment.upload` or `attachment.rescore`.
 * @return bool Whether an event is scheduled.
 */
function mmlq_edge_queue( int $id, string $event ): bool {
	if ( ! mmlq_edge_is_image( $id ) ) {
		return false;
	}
	update_post_meta( $id, '_mmlq_edge_status', 'pending' );
	update_post_meta( $id, '_mmlq_edge_event', $event );
	update_post_meta( $id, '_mmlq_edge_attempts', 0 );
	update_post_meta( $id, '_mmlq_edge_last_error', '' );
	return mmlq_edge_schedule( $id, time() );
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

/**
 * The webhook body for an event.
 *
 * @param string   $event `attachment.upload`, `attachment.rescore` or `ping`.
 * @param int|null $id    Attachment ID (not for ping).
 * @return array|WP_Error
 */
function mmlq_edge_payload( string $event, ?int $id = null ) {
	$body = array(
		'event'   => $event,
		'site'    => home_url( '/' ),
		'restUrl' => rest_url(),
		'sentAt'  => gmdate( 'c' ),
	);
	if ( 'ping' === $event ) {
		return $body;
	}
	$post = get_post( (int) $id );
	if ( ! $post instanceof WP_Post || ! mmlq_edge_is_image( $post->ID ) ) {
		return new WP_Error( 'NOT_AN_IMAGE', __( 'The attachment is gone or is not an image.', 'mmlq-edge' ) );
	}
	$file = get_attached_file( $post->ID );
	if ( ! $file || ! is_readable( $file ) ) {
		return new WP_Error( 'FILE_MISSING', __( 'The image file is missing on this server.', 'mmlq-edge' ) );
	}
	$meta   = wp_get_attachment_metadata( $post->ID );
	$width  = is_array( $meta ) && isset( $meta['width'] ) ? (int) $meta['width'] : 0;
	$height = is_array( $meta ) && isset( $meta['height'] ) ? (int) $meta['height'] : 0;
	if ( ! $width || ! $height ) {
		$size = function_exists( 'wp_getimagesize' ) ? wp_getimagesize( $file ) : false;
		if ( is_array( $size ) ) {
			$width  = (int) $size[0];
			$height = (int) $size[1];
		}
	}
	$attachment = array(
		'id'          => $post->ID,
		'url'         => (string) wp_get_attachment_url( $post->ID ),
		'mime'        => (string) $post->post_mime_type,
		'sha256'      => (string) hash_file( 'sha256', $file ),
		'width'       => $width,
		'height'      => $height,
		'title'       => mmlq_edge_clip( $post->post_title, 2000 ),
		'caption'     => mmlq_edge_clip( $post->post_excerpt, 10000 ),
		'alt'         => mmlq_edge_clip( (string) get_post_meta( $post->ID, '_wp_attachment_image_alt', true ), 2000 ),
		'description' => mmlq_edge_clip( $post->post_content, 20000 ),
	);
	if ( ! $width || ! $height ) {
		unset( $attachment['width'], $attachment['height'] );
	}
	if ( mmlq_edge_settings()['include_comments'] ) {
		$comments = get_comments(
			array(
				'post_id' => $post->ID,
				'status'  => 'approve',
				'type'    => 'comment',
				'number'  => 10,
				'orderby' => 'comment_date_gmt',
				'order'   => 'DESC',
			)
		);
		$attachment['comments'] = array_values(
			array_map( static fn( $c ) => mmlq_edge_clip( $c->comment_content, 5000 ), is_array( $comments ) ? $comments : array() )
		);
	}
	$body['attachment'] = $attachment;
	return $body;
}

/**
 * At most $max characters.
 *
 * @param string $text Text.
 * @param int    $max  Characters.
 */
function mmlq_edge_clip( string $text, int $max ): string {
	return mb_strlen( $text ) > $max ? mb_substr( $text, 0, $max ) : $text;
}

/**
 * POSTs a signed payload to the endpoint.
 *
 * @param array $payload Body (see mmlq_edge_payload()).
 * @return array{code: int, error: string, retry_after: int, body: string} code 0 = transport error.
 */
function mmlq_edge_post( array $payload ): array {
	$settings = mmlq_edge_settings();
	$reason   = mmlq_edge_not_ready_reason();
	if ( null !== $reason ) {
		return array(
			'code'        => 0,
			'error'       => 'NOT_CONFIGURED: ' . $reason,
			'retry_after' => 0,
			'body'        => '',
		);
	}
	$body      = (string) wp_json_encode( $payload, JSON_UNESCAPED_SLASHES );
	$timestamp = (string) time();
	/**
	 * Filters whether the endpoint may be on a loopback or private address, or on a port other than 80,
	 * 443 and 8080. Default: yes on a single site, whose administrators run the server anyway and may run
	 * the function locally in development; no on multisite, where a site's administrator must not reach
	 * the network's internal services. When false, the URL must pass wp_http_validate_url().
	 *
	 * @param bool   $allow    Whether to allow it.
	 * @param string $endpoint The endpoint URL (its scheme is http or https).
	 */
	$allow_private = (bool) apply_filters( 'mmlq_edge_allow_private_endpoint', ! is_multisite(), $settings['endpoint'] );
	// The scheme was checked above; redirects are never followed.
	$response = wp_remote_post(
		$settings['endpoint'],
		array(
			'timeout'             => $settings['timeout'],
			'blocking'            => true,
			'redirection'         => 0,
			'reject_unsafe_urls'  => ! $allow_private,
			'limit_response_size' => MMLQ_EDGE_MAX_RESPONSE_BYTES,
			'user-agent'          => 'MMLQ-Edge-WordPress/' . MMLQ_EDGE_VERSION . '; ' . home_url( '/' ),
			'headers'             => array(
				'Content-Type'     => 'application/json',
				'X-MMLQ-Delivery'  => wp_generate_uuid4(),
				'X-MMLQ-Timestamp' => $timestamp,
				'X-MMLQ-Signature' => 'v1=' . hash_hmac( 'sha256', $timestamp . '.' . $body, $settings['secret'] ),
			),
			'body'                => $body,
		)
	);
	if ( is_wp_error( $response ) ) {
		return array(
			'code'        => 0,
			'error'       => 'HTTP_TRANSPORT: ' . $response->get_error_message(),
			'retry_after' => 0,
			'body'        => '',
		);
	}
	$code  = (int) wp_remote_retrieve_response_code( $response );
	$text  = (string) wp_remote_retrieve_body( $response );
	$error = '';
	if ( $code < 200 || $code >= 300 ) {
		$error = 'HTTP ' . $code;
		$json  = json_decode( $text, true );
		if ( is_array( $json ) && isset( $json['error'] ) && is_array( $json['error'] ) ) {
			$code_name = isset( $json['error']['code'] ) && is_scalar( $json['error']['code'] ) ? (string) $json['error']['code'] : '';
			$message   = isset( $json['error']['message'] ) && is_scalar( $json['error']['message'] ) ? (string) $json['error']['message'] : '';
			$error    .= ( '' !== $code_name ? ' ' . $code_name : '' ) . ( '' !== $message ? ': ' . $message : '' );
		} elseif ( $code >= 300 && $code < 400 ) {
			$error .= ': ' . __( 'redirects are not followed; check the endpoint URL', 'mmlq-edge' );
		}
		$error = mmlq_edge_clip( $error, 500 );
	}
	$retry_after = wp_remote_retrieve_header( $response, 'retry-after' );
	return array(
		'code'        => $code,
		'error'       => $error,
		'retry_after' => is_numeric( $retry_after ) ? max( 0, (int) $retry_after ) : 0,
		'body'        => $text,
	);
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
 * What the endpoint last answered, in a word: the `status` of a 2xx JSON answer (`scored`, `duplicate`,
 * `rejected`, `gone`), else `HTTP <code>`, or `transport error`.
 *
 * @param array $result From mmlq_edge_post().
 */
function mmlq_edge_response_summary( array $result ): string {
	if ( 0 === $result['code'] ) {
		return 'transport error';
	}
	$json = json_decode( (string) $result['body'], true );
	if ( $result['code'] >= 200 && $result['code'] < 300 && is_array( $json ) && isset( $json['status'] ) && is_string( $json['status'] ) ) {
		return sanitize_key( $json['status'] );
	}
	return 'HTTP ' . $result['code'];
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

/**
 * Sends a `ping` now.
 *
 * @return array{code: int, error: string, body: string}
 */
function mmlq_edge_ping(): array {
	$result = mmlq_edge_post( mmlq_edge_payload( 'ping' ) );
	return array(
		'code'  => $result['code'],
		'error' => $result['error'],
		'body'  => mmlq_edge_clip( $result['body'], 500 ),
	);
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
 * Delivery statuses and their counts.
 *
 * @return array<string, int>
 */
function mmlq_edge_status_counts(): array {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$rows   = $wpdb->get_results( "SELECT meta_value AS status, COUNT(*) AS n FROM {$wpdb->postmeta} WHERE meta_key = '_mmlq_edge_status' GROUP BY meta_value", ARRAY_A );
	$counts = array(
		'pending' => 0,
		'sent'    => 0,
		'failed'  => 0,
	);
	foreach ( (array) $rows as $row ) {
		$counts[ (string) $row['status'] ] = (int) $row['n'];
	}
	return $counts;
}

/**
 * How many images are pending (queued or waiting for a retry).
 */
function mmlq_edge_pending_count(): int {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	return (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$wpdb->postmeta} WHERE meta_key = '_mmlq_edge_status' AND meta_value = 'pending'" );
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
