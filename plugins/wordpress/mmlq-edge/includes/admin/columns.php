<?php
/**
 * The media library's "Aesthetic" column: score and tier, or the delivery state with a Retry link;
 * sortable by score.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the column's hooks.
 */
function mmlq_edge_register_columns(): void {
	add_filter( 'manage_media_columns', 'mmlq_edge_media_columns' );
	add_action( 'manage_media_custom_column', 'mmlq_edge_media_column', 10, 2 );
	add_filter( 'manage_upload_sortable_columns', 'mmlq_edge_sortable_columns' );
	add_filter( 'media_row_actions', 'mmlq_edge_row_actions', 10, 2 );
}

/**
 * The URL that queues one image again (admin-post.php, nonce), or '' when the user may not edit it.
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_rescore_url( int $id ): string {
	if ( ! current_user_can( 'edit_post', $id ) ) {
		return '';
	}
	return wp_nonce_url( admin_url( 'admin-post.php?action=mmlq_edge_retry&attachment=' . $id ), 'mmlq_edge_retry_' . $id );
}

/**
 * "Rescore" under a scored image in the media list.
 *
 * @param array   $actions Row actions.
 * @param WP_Post $post    Attachment.
 */
function mmlq_edge_row_actions( $actions, $post ): array {
	$actions = (array) $actions;
	if ( $post instanceof WP_Post && mmlq_edge_is_image( $post->ID ) && mmlq_edge_has_score( $post->ID ) ) {
		$url = mmlq_edge_rescore_url( $post->ID );
		if ( '' !== $url ) {
			$actions['mmlq_edge_rescore'] = '<a class="mmlq-edge-rescore" href="' . esc_url( $url ) . '">' . esc_html__( 'Rescore', 'mmlq-edge' ) . '</a>';
		}
	}
	return $actions;
}

/**
 * "Library 96.4 · model 91.5": the image's percentile among this site's scored images and the model's
 * (HTML, escaped).
 *
 * @param array $score mmlq_edge_score().
 */
function mmlq_edge_percentiles_html( array $score ): string {
	return '<span class="mmlq-edge-percentiles description">' . esc_html(
		sprintf(
			/* translators: 1: percentile among this library's scored images, 2: the model's percentile. */
			__( 'library %1$s · model %2$s', 'mmlq-edge' ),
			mmlq_edge_percentile_text( $score['library_percentile'] ),
			mmlq_edge_percentile_text( $score['percentile'] )
		)
	) . '</span>';
}

/**
 * The "Aesthetic" column.
 *
 * @param array $columns Columns.
 */
function mmlq_edge_media_columns( array $columns ): array {
	// Escaped here: list tables print column headers as they are.
	$columns['mmlq_edge'] = esc_html__( 'Aesthetic', 'mmlq-edge' );
	return $columns;
}

/**
 * @param array $columns Sortable columns.
 */
function mmlq_edge_sortable_columns( array $columns ): array {
	$columns['mmlq_edge'] = array( 'mmlq_score', true );
	return $columns;
}

/**
 * The Retry / Score link.
 *
 * @param int    $id    Attachment ID.
 * @param string $label Text.
 */
function mmlq_edge_retry_link( int $id, string $label ): string {
	if ( ! current_user_can( 'edit_post', $id ) ) {
		return '';
	}
	return ' <a class="mmlq-edge-retry" href="' . esc_url( mmlq_edge_rescore_url( $id ) ) . '">' . esc_html( $label ) . '</a>';
}

/**
 * What the column says about an attachment (HTML, escaped).
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_status_html( int $id ): string {
	if ( ! mmlq_edge_is_image( $id ) ) {
		return '—';
	}
	$score = mmlq_edge_score( $id );
	$state = mmlq_edge_state( $id );
	if ( null !== $score ) {
		$html = '<strong>' . esc_html( number_format_i18n( $score['score'], 2 ) ) . '</strong>';
		if ( null !== $score['tier'] ) {
			$html .= ' <span class="mmlq-edge-tier mmlq-edge-tier-' . esc_attr( $score['tier'] ) . '">' . esc_html( mmlq_edge_tier_name( $score['tier'] ) ) . '</span>';
		}
		$html .= '<br />' . mmlq_edge_percentiles_html( $score );
		if ( in_array( $state['status'], array( 'pending', 'sending' ), true ) ) {
			$html .= '<br /><span class="description">' . esc_html__( 'rescore queued', 'mmlq-edge' ) . '</span>';
		}
		return $html;
	}
	$error = (string) get_post_meta( $id, 'mmlq_error', true );
	switch ( $state['status'] ) {
		case 'pending':
			$html = esc_html__( 'queued', 'mmlq-edge' );
			if ( '' !== $state['last_error'] ) {
				$html .= '<br /><span class="description">' . esc_html(
					$state['attempts'] > 0
						/* translators: 1: attempts so far, 2: maximum, 3: error. */
						? sprintf( __( 'attempt %1$d of %2$d failed: %3$s', 'mmlq-edge' ), $state['attempts'], mmlq_edge_settings()['max_attempts'], $state['last_error'] )
						: $state['last_error']
				) . '</span>';
			}
			$next = (int) get_post_meta( $id, '_mmlq_edge_next_try', true );
			if ( $next > time() ) {
				/* translators: %s: time. */
				$html .= '<br /><span class="description">' . esc_html( sprintf( __( 'next try at %s', 'mmlq-edge' ), wp_date( get_option( 'time_format' ), $next ) ) ) . '</span>';
			}
			return $html;
		case 'sending':
			return esc_html__( 'sending', 'mmlq-edge' );
		case 'failed':
			/* translators: %s: error. */
			return '<span class="mmlq-edge-failed" style="color:#b32d2e">' . esc_html( sprintf( __( 'failed: %s', 'mmlq-edge' ), $state['last_error'] ) ) . '</span>' . mmlq_edge_retry_link( $id, __( 'Retry', 'mmlq-edge' ) );
		case 'sent':
			if ( '' !== $error ) {
				/* translators: %s: error. */
				return '<span class="mmlq-edge-failed" style="color:#b32d2e">' . esc_html( sprintf( __( 'not scored: %s', 'mmlq-edge' ), $error ) ) . '</span>' . mmlq_edge_retry_link( $id, __( 'Retry', 'mmlq-edge' ) );
			}
			return esc_html__( 'sent, waiting for the score', 'mmlq-edge' );
		default:
			return esc_html__( 'not scored', 'mmlq-edge' ) . mmlq_edge_retry_link( $id, __( 'Score', 'mmlq-edge' ) );
	}
}

/**
 * @param string $column Column.
 * @param int    $id     Attachment ID.
 */
function mmlq_edge_media_column( $column, $id ): void {
	if ( 'mmlq_edge' === $column ) {
		echo mmlq_edge_status_html( (int) $id ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped when built.
	}
}
