<?php
/**
 * wp-admin: the admin-post.php handlers of the settings page's buttons and of the Retry link (nonce,
 * then capability, then the action, then a redirect).
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the handlers' hooks.
 */
function mmlq_edge_register_admin_handlers(): void {
	add_action( 'admin_post_mmlq_edge_ping', 'mmlq_edge_handle_ping' );
	add_action( 'admin_post_mmlq_edge_regenerate', 'mmlq_edge_handle_regenerate' );
	add_action( 'admin_post_mmlq_edge_backfill', 'mmlq_edge_handle_backfill' );
	add_action( 'admin_post_mmlq_edge_retry', 'mmlq_edge_handle_retry' );
}

/**
 * Dies unless the nonce and capability check out.
 *
 * @param string $action Nonce action.
 * @param string $cap    Capability.
 * @param int    $id     Object for a meta capability.
 */
function mmlq_edge_guard( string $action, string $cap, int $id = 0 ): void {
	check_admin_referer( $action );
	$allowed = $id ? current_user_can( $cap, $id ) : current_user_can( $cap );
	if ( ! $allowed ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'mmlq-edge' ), 403 );
	}
}

/**
 * "Send a test ping".
 */
function mmlq_edge_handle_ping(): void {
	mmlq_edge_guard( 'mmlq_edge_ping', 'manage_options' );
	$result = mmlq_edge_ping();
	set_transient( 'mmlq_edge_ping_' . get_current_user_id(), $result, 5 * MINUTE_IN_SECONDS );
	wp_safe_redirect( mmlq_edge_settings_url( array( 'mmlq_edge_notice' => 'ping' ) ) );
	exit;
}

/**
 * "Regenerate secret".
 */
function mmlq_edge_handle_regenerate(): void {
	mmlq_edge_guard( 'mmlq_edge_regenerate', 'manage_options' );
	$s           = get_option( 'mmlq_edge_settings', array() );
	$s           = is_array( $s ) ? $s : array();
	$s['secret'] = mmlq_edge_new_secret();
	update_option( 'mmlq_edge_settings', $s, false );
	update_option( 'mmlq_edge_secret_unseen', 1, false );
	wp_safe_redirect( mmlq_edge_settings_url( array( 'mmlq_edge_notice' => 'secret' ) ) );
	exit;
}

/**
 * "Score all unscored images" (Settings → MMLQ Edge, Media → Aesthetic scores), or with `mode=older`
 * "Rescore images an older model scored" (Media → Aesthetic scores): editors may run it
 * (MMLQ_EDGE_BACKFILL_CAP); back to the page it came from.
 */
function mmlq_edge_handle_backfill(): void {
	mmlq_edge_guard( 'mmlq_edge_backfill', MMLQ_EDGE_BACKFILL_CAP );
	$mode  = isset( $_POST['mode'] ) && 'older' === sanitize_key( wp_unslash( $_POST['mode'] ) ) ? 'older' : 'unscored'; // phpcs:ignore WordPress.Security.NonceVerification.Missing -- checked in the guard.
	$state = get_option( 'mmlq_edge_backfill' );
	if ( ! is_array( $state ) || 'running' !== ( $state['state'] ?? '' ) ) {
		mmlq_edge_start_backfill( $mode );
	}
	$referer = wp_get_referer();
	$back    = $referer && str_contains( $referer, 'page=mmlq-edge-library' ) ? $referer : mmlq_edge_settings_url();
	wp_safe_redirect( add_query_arg( 'mmlq_edge_notice', 'backfill', remove_query_arg( 'mmlq_edge_notice', $back ) ) );
	exit;
}

/**
 * The Retry / Score link of one attachment.
 */
function mmlq_edge_handle_retry(): void {
	$id = isset( $_GET['attachment'] ) ? absint( wp_unslash( $_GET['attachment'] ) ) : 0; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- checked in the guard.
	mmlq_edge_guard( 'mmlq_edge_retry_' . $id, 'edit_post', $id );
	$queued   = mmlq_edge_queue( $id, mmlq_edge_event_for( $id ) ) ? 1 : 0;
	$referer  = wp_get_referer();
	$redirect = $referer ? $referer : admin_url( 'upload.php?mode=list' );
	wp_safe_redirect( add_query_arg( 'mmlq_edge_queued', $queued, remove_query_arg( 'mmlq_edge_queued', $redirect ) ) );
	exit;
}
