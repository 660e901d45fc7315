<?php
/**
 * Plugin Name:       MMLQ Edge
 * Plugin URI:        https://github.com/mmlq-edge/mmlq-edge
 * Description:       Scores uploaded images for aesthetics with your MMLQ Edge deployment (a signed webhook per image; the score, its percentile and a tier come back as attachment meta and a term).
 * Version:           0.2.0
 * Requires at least: 6.1
 * Requires PHP:      8.1
 * Author:            MMLQ Edge
 * License:           MIT
 * License URI:       https://opensource.org/licenses/MIT
 * Text Domain:       mmlq-edge
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

define( 'MMLQ_EDGE_VERSION', '0.2.0' );
define( 'MMLQ_EDGE_FILE', __FILE__ );
define( 'MMLQ_EDGE_DIR', __DIR__ );

require_once MMLQ_EDGE_DIR . '/includes/roles.php';
require_once MMLQ_EDGE_DIR . '/includes/settings.php';
require_once MMLQ_EDGE_DIR . '/includes/data.php';
require_once MMLQ_EDGE_DIR . '/includes/queue.php';
require_once MMLQ_EDGE_DIR . '/includes/payload.php';
require_once MMLQ_EDGE_DIR . '/includes/transport.php';
require_once MMLQ_EDGE_DIR . '/includes/delivery.php';
require_once MMLQ_EDGE_DIR . '/includes/backfill.php';
require_once MMLQ_EDGE_DIR . '/includes/counts.php';
require_once MMLQ_EDGE_DIR . '/includes/best-image.php';
require_once MMLQ_EDGE_DIR . '/includes/hero.php';
require_once MMLQ_EDGE_DIR . '/includes/hero-crop.php';
require_once MMLQ_EDGE_DIR . '/includes/library-tiers.php';
require_once MMLQ_EDGE_DIR . '/includes/library-rest.php';
if ( is_admin() ) {
	require_once MMLQ_EDGE_DIR . '/includes/admin/settings-page.php';
	require_once MMLQ_EDGE_DIR . '/includes/admin/handlers.php';
	require_once MMLQ_EDGE_DIR . '/includes/admin/notices.php';
	require_once MMLQ_EDGE_DIR . '/includes/admin/columns.php';
	require_once MMLQ_EDGE_DIR . '/includes/admin/list-filter.php';
	require_once MMLQ_EDGE_DIR . '/includes/admin/bulk-actions.php';
	require_once MMLQ_EDGE_DIR . '/includes/admin/attachment-fields.php';
	require_once MMLQ_EDGE_DIR . '/includes/admin/hero-panel.php';
	require_once MMLQ_EDGE_DIR . '/includes/admin/library-page.php';
}

/**
 * The one place that adds the plugin's hooks: each concern's file defines functions only, and its
 * register function, called here, hooks them up.
 */
function mmlq_edge_boot(): void {
	mmlq_edge_register_roles();
	mmlq_edge_register_settings();
	mmlq_edge_register_data_hooks();
	mmlq_edge_register_queue();
	mmlq_edge_register_delivery();
	mmlq_edge_register_backfill();
	mmlq_edge_register_best_image();
	mmlq_edge_register_hero();
	mmlq_edge_register_library_tiers();
	mmlq_edge_register_library_rest();
	if ( is_admin() ) {
		mmlq_edge_register_settings_page();
		mmlq_edge_register_admin_handlers();
		mmlq_edge_register_notices();
		mmlq_edge_register_columns();
		mmlq_edge_register_list_filter();
		mmlq_edge_register_bulk_actions();
		mmlq_edge_register_attachment_fields();
		mmlq_edge_register_hero_panel();
		mmlq_edge_register_library_page();
	}
}

mmlq_edge_boot();

register_activation_hook( __FILE__, 'mmlq_edge_activate' );
register_deactivation_hook( __FILE__, 'mmlq_edge_deactivate' );

/**
 * Activation: the tier terms, the settings with a fresh secret, events for anything still pending, and
 * the "score all" backfill resumed if a deactivation interrupted it. On multisite this runs for the
 * current site only (also when network-activated): another site's administrator generates its secret
 * with "Regenerate secret" under Settings → MMLQ Edge, and the function creates missing tier terms.
 */
function mmlq_edge_activate(): void {
	mmlq_edge_add_roles();
	mmlq_edge_register_data();
	foreach ( mmlq_edge_tiers() as $slug => $name ) {
		if ( ! term_exists( $slug, 'mmlq_tier' ) ) {
			wp_insert_term( $name, 'mmlq_tier', array( 'slug' => $slug ) );
		}
	}
	$stored   = get_option( 'mmlq_edge_settings' );
	$settings = mmlq_edge_settings();
	if ( '' === $settings['secret'] ) {
		$settings['secret'] = mmlq_edge_new_secret();
		update_option( 'mmlq_edge_secret_unseen', 1, false );
	}
	if ( false === $stored ) {
		add_option( 'mmlq_edge_settings', $settings, '', false );
	} else {
		update_option( 'mmlq_edge_settings', $settings, false );
	}
	mmlq_edge_reschedule_pending();
	mmlq_edge_ensure_runner();
	mmlq_edge_schedule_library_tiers();
	$backfill = get_option( 'mmlq_edge_backfill' );
	if ( is_array( $backfill ) && 'running' === ( $backfill['state'] ?? '' ) && false === wp_next_scheduled( 'mmlq_edge_backfill' ) ) {
		wp_schedule_single_event( time(), 'mmlq_edge_backfill' );
	}
}

/**
 * Deactivation: no events left behind. Pending images stay pending and are rescheduled on activation.
 */
function mmlq_edge_deactivate(): void {
	wp_unschedule_hook( 'mmlq_edge_send' );
	wp_unschedule_hook( 'mmlq_edge_backfill' );
	wp_unschedule_hook( 'mmlq_edge_reschedule' );
	wp_unschedule_hook( 'mmlq_edge_run_queue' );
	wp_unschedule_hook( 'mmlq_edge_library_tiers' );
}
