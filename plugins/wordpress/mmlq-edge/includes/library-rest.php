<?php
/**
 * What editors run on the whole library, over REST (wp-json/mmlq-edge/v1): the "score all unscored
 * images" backfill with its status for live progress, and rescoring one image. Who may run the backfill:
 * the `mmlq_edge_run_backfill` capability, which WordPress maps to upload_files + edit_others_posts
 * (editors and administrators; not authors, whose media rights end at their own images).
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** The (meta) capability that starts the backfill and reads its progress. */
const MMLQ_EDGE_BACKFILL_CAP = 'mmlq_edge_run_backfill';

/**
 * Adds the routes' and the capability's hooks.
 */
function mmlq_edge_register_library_rest(): void {
	add_filter( 'map_meta_cap', 'mmlq_edge_map_backfill_cap', 10, 2 );
	add_action( 'rest_api_init', 'mmlq_edge_register_library_routes' );
}

/**
 * `mmlq_edge_run_backfill` needs upload_files and edit_others_posts. Sites that want another rule
 * filter `map_meta_cap` after this (priority > 10) or grant the capability to a role with add_cap()
 * and return it unmapped.
 *
 * @param string[] $caps Primitive capabilities required.
 * @param string   $cap  Capability checked.
 * @return string[]
 */
function mmlq_edge_map_backfill_cap( $caps, $cap ): array {
	if ( MMLQ_EDGE_BACKFILL_CAP === $cap ) {
		return array( 'upload_files', 'edit_others_posts' );
	}
	return (array) $caps;
}

/**
 * The routes.
 */
function mmlq_edge_register_library_routes(): void {
	$can_backfill = static fn(): bool => current_user_can( MMLQ_EDGE_BACKFILL_CAP );
	register_rest_route(
		'mmlq-edge/v1',
		'/backfill',
		array(
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => static fn() => rest_ensure_response( mmlq_edge_backfill_status() ),
				'permission_callback' => $can_backfill,
			),
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => 'mmlq_edge_rest_start_backfill',
				'permission_callback' => $can_backfill,
				'args'                => array(
					'mode' => array(
						'type'    => 'string',
						'enum'    => array( 'unscored', 'older' ),
						'default' => 'unscored',
					),
				),
			),
		)
	);
	register_rest_route(
		'mmlq-edge/v1',
		'/attachments/(?P<id>\d+)/rescore',
		array(
			'methods'             => WP_REST_Server::CREATABLE,
			'callback'            => 'mmlq_edge_rest_rescore',
			'permission_callback' => static fn( WP_REST_Request $request ): bool => current_user_can( 'edit_post', (int) $request['id'] ),
			'args'                => array(
				'id' => array(
					'type'     => 'integer',
					'minimum'  => 1,
					'required' => true,
				),
			),
		)
	);
}

/**
 * POST /mmlq-edge/v1/backfill: starts "score all unscored images" (mode `unscored`, the default) or
 * "rescore images an older model scored" (mode `older`) unless a run is going already.
 *
 * @param WP_REST_Request $request Request.
 * @return WP_REST_Response
 */
function mmlq_edge_rest_start_backfill( WP_REST_Request $request ) {
	$state = get_option( 'mmlq_edge_backfill' );
	if ( ! is_array( $state ) || 'running' !== ( $state['state'] ?? '' ) ) {
		mmlq_edge_start_backfill( (string) $request['mode'] );
	}
	$response = rest_ensure_response( mmlq_edge_backfill_status() );
	$response->set_status( 202 );
	return $response;
}

/**
 * POST /mmlq-edge/v1/attachments/<id>/rescore: queues an image again (a rescore once it was scored).
 *
 * @param WP_REST_Request $request Request.
 * @return WP_REST_Response|WP_Error
 */
function mmlq_edge_rest_rescore( WP_REST_Request $request ) {
	$id = (int) $request['id'];
	if ( ! mmlq_edge_is_image( $id ) ) {
		return new WP_Error( 'rest_post_invalid_id', __( 'Not an image in the media library.', 'mmlq-edge' ), array( 'status' => 404 ) );
	}
	$event = mmlq_edge_event_for( $id );
	mmlq_edge_queue( $id, $event );
	$response = rest_ensure_response(
		array(
			'attachment' => $id,
			'event'      => $event,
			'status'     => mmlq_edge_state( $id )['status'],
		)
	);
	$response->set_status( 202 );
	return $response;
}

/**
 * The backfill and the queue now: what the progress display polls.
 *
 * The model versions of the stored scores (`models`, with counts), the newest score's (`newest`) and how many
 * images another version scored (`older`) say whether "Rescore images an older model scored" has work.
 *
 * @return array{state: string, queued: int, total: int, started: string|null, finished: string|null, pending: int, sent: int, failed: int, unscored: int, mode: string, models: object, newest: string, older: int, message: string}
 */
function mmlq_edge_backfill_status(): array {
	$state  = get_option( 'mmlq_edge_backfill' );
	$state  = is_array( $state ) ? $state : array();
	$counts = mmlq_edge_status_counts();
	$models = mmlq_edge_scored_models();
	$newest = mmlq_edge_newest_model();
	$time   = static fn( $ts ): ?string => empty( $ts ) ? null : mmlq_edge_readable_time( gmdate( 'c', (int) $ts ) );
	return array(
		'state'    => in_array( $state['state'] ?? '', array( 'running', 'done' ), true ) ? $state['state'] : 'idle',
		'queued'   => (int) ( $state['queued'] ?? 0 ),
		'total'    => (int) ( $state['total'] ?? 0 ),
		'started'  => $time( $state['started'] ?? 0 ),
		'finished' => $time( $state['finished'] ?? 0 ),
		'pending'  => $counts['pending'] + $counts['sending'],
		'sent'     => $counts['sent'],
		'failed'   => $counts['failed'],
		'unscored' => mmlq_edge_unscored_count(),
		'mode'     => 'older' === ( $state['mode'] ?? '' ) ? 'older' : 'unscored',
		'models'   => (object) $models,
		'newest'   => $newest,
		'older'    => mmlq_edge_older_model_count( $models, $newest ),
		'message'  => mmlq_edge_progress_text( $state, $counts ),
	);
}

/**
 * One line on the backfill and the delivery queue, with plural forms.
 *
 * @param array              $state  The `mmlq_edge_backfill` option.
 * @param array<string, int> $counts Status counts.
 */
function mmlq_edge_progress_text( array $state, array $counts ): string {
	$parts = array();
	$older = 'older' === ( $state['mode'] ?? '' );
	if ( 'running' === ( $state['state'] ?? '' ) && $older ) {
		$total   = (int) $state['total'];
		$parts[] = sprintf(
			/* translators: 1: images queued so far, 2: images to queue. */
			_n( 'Rescoring images an older model scored: %1$s of %2$s image queued so far.', 'Rescoring images an older model scored: %1$s of %2$s images queued so far.', $total, 'mmlq-edge' ),
			number_format_i18n( (int) $state['queued'] ),
			number_format_i18n( $total )
		);
	} elseif ( 'done' === ( $state['state'] ?? '' ) && $older ) {
		$queued  = (int) $state['queued'];
		$parts[] = sprintf(
			/* translators: 1: number of images, 2: date and time. */
			_n( 'Last "rescore older": %1$s image queued, finished %2$s.', 'Last "rescore older": %1$s images queued, finished %2$s.', $queued, 'mmlq-edge' ),
			number_format_i18n( $queued ),
			mmlq_edge_readable_time( gmdate( 'c', (int) $state['finished'] ) )
		);
	} elseif ( 'running' === ( $state['state'] ?? '' ) ) {
		$total   = (int) $state['total'];
		$parts[] = sprintf(
			/* translators: 1: images queued so far, 2: images to queue. */
			_n( 'Scoring all unscored images: %1$s of %2$s image queued so far.', 'Scoring all unscored images: %1$s of %2$s images queued so far.', $total, 'mmlq-edge' ),
			number_format_i18n( (int) $state['queued'] ),
			number_format_i18n( $total )
		);
	} elseif ( 'done' === ( $state['state'] ?? '' ) ) {
		$queued  = (int) $state['queued'];
		$parts[] = sprintf(
			/* translators: 1: number of images, 2: date and time. */
			_n( 'Last "score all": %1$s image queued, finished %2$s.', 'Last "score all": %1$s images queued, finished %2$s.', $queued, 'mmlq-edge' ),
			number_format_i18n( $queued ),
			mmlq_edge_readable_time( gmdate( 'c', (int) $state['finished'] ) )
		);
	}
	$unscored = mmlq_edge_unscored_count();
	$parts[]  = sprintf(
		/* translators: 1: queued, 2: sent, 3: failed (numbers of images), 4: the sentence on unscored images. */
		__( 'Now: %1$s queued, %2$s sent, %3$s failed; %4$s', 'mmlq-edge' ),
		number_format_i18n( $counts['pending'] + $counts['sending'] ),
		number_format_i18n( $counts['sent'] ),
		number_format_i18n( $counts['failed'] ),
		sprintf(
			/* translators: %s: number of images. */
			_n( '%s image has no score.', '%s images have no score.', $unscored, 'mmlq-edge' ),
			number_format_i18n( $unscored )
		)
	);
	return implode( ' ', $parts );
}
