<?php
/**
 * Uninstall: removes the plugin's options, scheduled events, private delivery status, the
 * `mmlq_edge_scorer` role, the `mmlq_edge_write_scores` capability and the library percentiles
 * (derived from the scores). Scores (the mmlq_* attachment meta), the tier terms and the cropped
 * copies the Hero image panel made stay: they are the site's data (only the copies' private link to
 * their original goes).
 *
 * @package MMLQ_Edge
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

/**
 * Cleans one site.
 */
function mmlq_edge_uninstall_site(): void {
	delete_option( 'mmlq_edge_settings' );
	delete_option( 'mmlq_edge_backfill' );
	delete_option( 'mmlq_edge_secret_unseen' );
	delete_option( 'mmlq_edge_roles' );
	delete_option( 'mmlq_edge_tiers' );
	remove_role( 'mmlq_edge_scorer' );
	foreach ( wp_roles()->role_objects as $role ) {
		$role->remove_cap( 'mmlq_edge_write_scores' );
	}
	wp_unschedule_hook( 'mmlq_edge_send' );
	wp_unschedule_hook( 'mmlq_edge_run_queue' );
	wp_unschedule_hook( 'mmlq_edge_backfill' );
	wp_unschedule_hook( 'mmlq_edge_reschedule' );
	wp_unschedule_hook( 'mmlq_edge_library_tiers' );
	// Derived from the scores (which stay): recomputed if the plugin comes back.
	delete_post_meta_by_key( 'mmlq_library_percentile' );
	foreach ( array( '_mmlq_edge_status', '_mmlq_edge_attempts', '_mmlq_edge_last_error', '_mmlq_edge_last_response', '_mmlq_edge_event', '_mmlq_edge_next_try', '_mmlq_edge_claimed_at', '_mmlq_edge_sha256', '_mmlq_edge_crop_of', '_mmlq_edge_crop_box' ) as $key ) {
		delete_post_meta_by_key( $key );
	}
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids', 'number' => 0 ) ) as $mmlq_edge_site ) {
		switch_to_blog( (int) $mmlq_edge_site );
		mmlq_edge_uninstall_site();
		restore_current_blog();
	}
} else {
	mmlq_edge_uninstall_site();
}
