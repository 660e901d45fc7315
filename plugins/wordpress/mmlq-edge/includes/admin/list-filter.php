<?php
/**
 * The media list's tier filter and sorting by score.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the filter's hooks.
 */
function mmlq_edge_register_list_filter(): void {
	add_action( 'restrict_manage_posts', 'mmlq_edge_tier_dropdown', 10, 2 );
	add_action( 'pre_get_posts', 'mmlq_edge_admin_query' );
}

/**
 * The tier filter above the media list.
 *
 * @param string $post_type Post type.
 * @param string $which     top or bottom.
 */
function mmlq_edge_tier_dropdown( $post_type, $which = 'top' ): void {
	if ( 'attachment' !== $post_type || 'top' !== $which ) {
		return;
	}
	$current = isset( $_GET['mmlq_tier'] ) ? sanitize_key( wp_unslash( $_GET['mmlq_tier'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
	echo '<label for="mmlq-edge-tier-filter" class="screen-reader-text">' . esc_html__( 'Filter by aesthetic tier', 'mmlq-edge' ) . '</label>';
	echo '<select name="mmlq_tier" id="mmlq-edge-tier-filter">';
	echo '<option value="">' . esc_html__( 'All aesthetic tiers', 'mmlq-edge' ) . '</option>';
	foreach ( mmlq_edge_tiers() as $slug => $name ) {
		echo '<option value="' . esc_attr( $slug ) . '"' . selected( $current, $slug, false ) . '>' . esc_html( $name ) . '</option>';
	}
	echo '</select>';
}

/**
 * The media list's tier filter and score sorting.
 *
 * @param WP_Query $query Query.
 */
function mmlq_edge_admin_query( WP_Query $query ): void {
	global $pagenow;
	if ( ! is_admin() || ! $query->is_main_query() || 'upload.php' !== $pagenow ) {
		return;
	}
	// phpcs:disable WordPress.Security.NonceVerification.Recommended -- a list filter.
	$tier = isset( $_GET['mmlq_tier'] ) ? sanitize_key( wp_unslash( $_GET['mmlq_tier'] ) ) : '';
	// phpcs:enable
	if ( '' !== $tier && isset( mmlq_edge_tiers()[ $tier ] ) ) {
		$tax_query   = (array) $query->get( 'tax_query' );
		$tax_query[] = array(
			'taxonomy' => 'mmlq_tier',
			'field'    => 'slug',
			'terms'    => array( $tier ),
		);
		$query->set( 'tax_query', $tax_query );
	}
	if ( 'mmlq_score' === $query->get( 'orderby' ) ) {
		$query->set( 'meta_key', 'mmlq_score' ); // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key
		$query->set( 'orderby', 'meta_value_num' );
	}
}
