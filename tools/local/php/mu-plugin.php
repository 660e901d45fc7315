<?php
/**
 * Plugin Name: Local test harness
 * Description: Copied by tools/local/wordpress.ts (from tools/local/php/mu-plugin.php) into the local WordPress's wp-content/mu-plugins/local-harness.php. Drops mail, says URL rewriting works (the router handles it) and keeps update checks quiet.
 */

add_filter('pre_wp_mail', '__return_false');
add_filter('got_url_rewrite', '__return_true');
// Core's HTTPS check requests https://127.0.0.1:PORT, which PHP's built-in server cannot answer.
add_filter('pre_wp_update_https_detection_errors', static fn () => new WP_Error());
add_filter('pre_site_transient_update_core', '__return_null');
add_filter('pre_site_transient_update_plugins', '__return_null');
add_filter('pre_site_transient_update_themes', '__return_null');
// No theme is installed (Debian ships the default themes as separate packages): declare the
// featured-image support a theme would, so that the block editor shows its Featured image panel.
add_action('after_setup_theme', static fn () => add_theme_support('post-thumbnails'));
