<?php
/**
 * wp-admin: Settings → MMLQ Edge (the page, its link on the plugins screen, the privacy policy text).
 * The page's HTML is templates/settings-page.php; its buttons post to includes/admin/handlers.php.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the settings page's hooks.
 */
function mmlq_edge_register_settings_page(): void {
	add_action( 'admin_menu', 'mmlq_edge_admin_menu' );
	add_filter( 'plugin_action_links_' . plugin_basename( MMLQ_EDGE_FILE ), 'mmlq_edge_action_links' );
	add_action( 'admin_init', 'mmlq_edge_privacy_policy_content' );
}

/**
 * Suggested text for the site's privacy policy (Settings → Privacy → Policy Guide): image texts and
 * approved comments leave the site for the configured endpoint.
 */
function mmlq_edge_privacy_policy_content(): void {
	if ( ! function_exists( 'wp_add_privacy_policy_content' ) ) {
		return;
	}
	$text = '<p>' . esc_html__( 'When an image is uploaded to the media library, or its texts change, this site sends the image\'s address, size, type and checksum, its title, caption, alt text and description and, if enabled, up to 10 approved comments on the image, to the MMLQ Edge deployment configured by the site\'s administrators, which scores the image and stores the score with it. Commenters\' names and email addresses are not sent.', 'mmlq-edge' ) . '</p>';
	wp_add_privacy_policy_content( __( 'MMLQ Edge', 'mmlq-edge' ), wp_kses_post( $text ) );
}

/**
 * Settings → MMLQ Edge; the page's state changes happen on its load hook, before anything renders.
 */
function mmlq_edge_admin_menu(): void {
	$hook = add_options_page(
		__( 'MMLQ Edge', 'mmlq-edge' ),
		__( 'MMLQ Edge', 'mmlq-edge' ),
		'manage_options',
		'mmlq-edge',
		'mmlq_edge_settings_page'
	);
	if ( $hook ) {
		add_action( 'load-' . $hook, 'mmlq_edge_settings_page_load' );
	}
}

/**
 * Whether this page view shows the secret: true once after it was generated. Set while the page loads.
 *
 * @param bool|null $set A new value (the load hook), or null to read.
 */
function mmlq_edge_reveal_secret( ?bool $set = null ): bool {
	static $reveal = false;
	if ( null !== $set ) {
		$reveal = $set;
	}
	return $reveal;
}

/**
 * Before the page renders: a secret not yet shown is shown on this view, and never again.
 */
function mmlq_edge_settings_page_load(): void {
	if ( current_user_can( 'manage_options' ) && get_option( 'mmlq_edge_secret_unseen' ) ) {
		delete_option( 'mmlq_edge_secret_unseen' );
		mmlq_edge_reveal_secret( true );
	}
}

/**
 * A "Settings" link on the plugins screen.
 *
 * @param array $links Links.
 */
function mmlq_edge_action_links( array $links ): array {
	array_unshift( $links, '<a href="' . esc_url( admin_url( 'options-general.php?page=mmlq-edge' ) ) . '">' . esc_html__( 'Settings', 'mmlq-edge' ) . '</a>' );
	return $links;
}

/**
 * The settings page URL, with extra query args.
 *
 * @param array $args Query args.
 */
function mmlq_edge_settings_url( array $args = array() ): string {
	return add_query_arg( $args, admin_url( 'options-general.php?page=mmlq-edge' ) );
}

/**
 * A POST button to admin-post.php with a nonce.
 *
 * @param string $action  Action (also the nonce action).
 * @param string $label   Button label.
 * @param string $confirm Confirmation text, if any.
 */
function mmlq_edge_action_button( string $action, string $label, string $confirm = '' ): void {
	echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" style="display:inline-block;margin-right:8px">';
	echo '<input type="hidden" name="action" value="' . esc_attr( $action ) . '" />';
	wp_nonce_field( $action );
	$attrs = '' !== $confirm ? array( 'onclick' => 'return confirm(' . wp_json_encode( $confirm ) . ');' ) : array();
	submit_button( $label, 'secondary', 'submit', false, $attrs );
	echo '</form>';
}
/**
 * The settings page (templates/settings-page.php).
 */
function mmlq_edge_settings_page(): void {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	$mmlq_edge_view = array(
		'settings'      => mmlq_edge_settings(),
		'name'          => 'mmlq_edge_settings',
		'counts'        => mmlq_edge_status_counts(),
		'reveal_secret' => mmlq_edge_reveal_secret(),
		'tiers'         => mmlq_edge_tier_settings(),
	);
	require MMLQ_EDGE_DIR . '/templates/settings-page.php';
}

/**
 * One line on the backfill and the delivery queue (the settings page's and Media → Aesthetic scores').
 *
 * @param array<string, int> $counts Status counts.
 */
function mmlq_edge_progress_line( array $counts ): string {
	$state = get_option( 'mmlq_edge_backfill' );
	return mmlq_edge_progress_text( is_array( $state ) ? $state : array(), $counts );
}
