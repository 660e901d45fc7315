<?php
/**
 * The block editor's "Hero image" panel (assets/hero-panel.js): a plain script on the editor's globals,
 * no build step. It reads GET mmlq-edge/v1/posts/<id>/hero and posts …/hero/crop (includes/hero.php).
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the panel's hook.
 */
function mmlq_edge_register_hero_panel(): void {
	add_action( 'enqueue_block_editor_assets', 'mmlq_edge_enqueue_hero_panel' );
}

/**
 * Loads the panel in the post editor, for post types with featured images and users who may upload
 * (the crop makes a new image).
 */
function mmlq_edge_enqueue_hero_panel(): void {
	$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
	if ( ! $screen || 'post' !== $screen->base || ! post_type_supports( (string) $screen->post_type, 'thumbnail' ) ) {
		return;
	}
	if ( ! current_theme_supports( 'post-thumbnails' ) || ! current_user_can( 'upload_files' ) ) {
		return;
	}
	$url = plugins_url( 'assets/', MMLQ_EDGE_FILE );
	wp_register_script(
		'mmlq-edge-hero-panel',
		$url . 'hero-panel.js',
		array( 'wp-plugins', 'wp-edit-post', 'wp-editor', 'wp-element', 'wp-components', 'wp-data', 'wp-api-fetch', 'wp-i18n', 'wp-url' ),
		MMLQ_EDGE_VERSION,
		true
	);
	wp_set_script_translations( 'mmlq-edge-hero-panel', 'mmlq-edge', MMLQ_EDGE_DIR . '/languages' );
	wp_enqueue_script( 'mmlq-edge-hero-panel' );
	wp_enqueue_style( 'mmlq-edge-hero-panel', $url . 'hero-panel.css', array( 'wp-components' ), MMLQ_EDGE_VERSION );
}
