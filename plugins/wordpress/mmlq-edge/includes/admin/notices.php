<?php
/**
 * wp-admin notices: the outcome of the settings page's actions, and failed deliveries in the media
 * library.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the notices' hook.
 */
function mmlq_edge_register_notices(): void {
	add_action( 'admin_notices', 'mmlq_edge_admin_notices' );
}

/**
 * Notices: results of the actions above, and failed deliveries in the media library.
 */
function mmlq_edge_admin_notices(): void {
	$screen = get_current_screen();
	if ( ! $screen ) {
		return;
	}
	// phpcs:disable WordPress.Security.NonceVerification.Recommended -- display only.
	if ( in_array( $screen->id, array( 'settings_page_mmlq-edge', 'media_page_mmlq-edge-library' ), true ) && isset( $_GET['mmlq_edge_notice'] ) ) {
		$notice = sanitize_key( wp_unslash( $_GET['mmlq_edge_notice'] ) );
		if ( 'ping' === $notice ) {
			$result = get_transient( 'mmlq_edge_ping_' . get_current_user_id() );
			delete_transient( 'mmlq_edge_ping_' . get_current_user_id() );
			if ( is_array( $result ) ) {
				$ok      = $result['code'] >= 200 && $result['code'] < 300;
				$json    = json_decode( (string) $result['body'], true );
				$answer  = is_array( $json ) && isset( $json['status'] ) && is_string( $json['status'] ) ? ' (' . $json['status'] . ')' : '';
				$message = $ok
					/* translators: 1: HTTP status, 2: the answer's status in parentheses, e.g. " (pong)". */
					? sprintf( __( 'Test ping: HTTP %1$d%2$s.', 'mmlq-edge' ), $result['code'], $answer )
					/* translators: %s: the error. */
					: sprintf( __( 'Test ping failed: %s', 'mmlq-edge' ), $result['error'] );
				printf( '<div class="notice notice-%s is-dismissible"><p>%s</p></div>', $ok ? 'success' : 'error', esc_html( $message ) );
			}
		} elseif ( 'backfill' === $notice ) {
			echo '<div class="notice notice-info is-dismissible"><p>' . esc_html__( 'Queuing every unscored image, 50 at a time, in the background.', 'mmlq-edge' ) . '</p></div>';
		} elseif ( 'secret' === $notice ) {
			echo '<div class="notice notice-warning is-dismissible"><p>' . esc_html__( 'A new secret was generated: give it to your deployment.', 'mmlq-edge' ) . '</p></div>';
		}
	}
	if ( 'upload' === $screen->id ) {
		if ( isset( $_GET['mmlq_edge_queued'] ) ) {
			$n = absint( wp_unslash( $_GET['mmlq_edge_queued'] ) );
			/* translators: %s: number of images. */
			echo '<div class="notice notice-success is-dismissible"><p>' . esc_html( sprintf( _n( '%s image queued for scoring.', '%s images queued for scoring.', $n, 'mmlq-edge' ), number_format_i18n( $n ) ) ) . '</p></div>';
		}
		$counts = mmlq_edge_status_counts();
		if ( $counts['failed'] > 0 && current_user_can( 'upload_files' ) ) {
			/* translators: %s: number of images. */
			echo '<div class="notice notice-warning"><p>' . esc_html( sprintf( _n( 'MMLQ Edge: %s image could not be sent for scoring; see the Aesthetic column.', 'MMLQ Edge: %s images could not be sent for scoring; see the Aesthetic column.', $counts['failed'], 'mmlq-edge' ), number_format_i18n( $counts['failed'] ) ) ) . '</p></div>';
		}
	}
	// phpcs:enable
}
