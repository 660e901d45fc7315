<?php
/**
 * The media list's tier filter and sorting by score, and the grid view's tier filter (its script is
 * assets/js/grid-filter.js).
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
	add_filter( 'ajax_query_attachments_args', 'mmlq_edge_grid_query' );
}

/**
 * The tax query of one tier.
 *
 * @param string $tier Tier slug.
 * @return array<string, mixed>
 */
function mmlq_edge_tier_tax_query( string $tier ): array {
	return array(
		'taxonomy' => 'mmlq_tier',
		'field'    => 'slug',
		'terms'    => array( $tier ),
	);
}

/**
 * The grid view's and media modal's tier filter: WordPress passes only the query args it knows to this
 * filter, so the tier is read from the request's `query[mmlq_tier]` (wp_ajax_query_attachments()
 * checked the upload_files capability before).
 *
 * @param array $query WP_Query args.
 */
function mmlq_edge_grid_query( $query ): array {
	$query = (array) $query;
	// phpcs:ignore WordPress.Security.NonceVerification.Recommended, WordPress.Security.NonceVerification.Missing -- a read-only filter, as core's own query args.
	$args = isset( $_REQUEST['query'] ) && is_array( $_REQUEST['query'] ) ? wp_unslash( $_REQUEST['query'] ) : array();
	$tier = isset( $args['mmlq_tier'] ) && is_string( $args['mmlq_tier'] ) ? sanitize_key( $args['mmlq_tier'] ) : '';
	if ( '' !== $tier && isset( mmlq_edge_tiers()[ $tier ] ) ) {
		$tax_query          = isset( $query['tax_query'] ) ? (array) $query['tax_query'] : array();
		$tax_query[]        = mmlq_edge_tier_tax_query( $tier );
		$query['tax_query'] = $tax_query; // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_tax_query
	}
	return $query;
}

/**
 * The tier filter above the media list.
 *
 * @param string $post_type Post type.
 * @param string $which     Where: the media list calls it once, with 'bar' (WordPress 6.1's
 *                          WP_Media_List_Table::extra_tablenav); posts lists pass 'top' and 'bottom'.
 */
function mmlq_edge_tier_dropdown( $post_type, $which = 'bar' ): void {
	if ( 'attachment' !== $post_type || ! in_array( $which, array( 'bar', 'top' ), true ) ) {
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
		$tax_query[] = mmlq_edge_tier_tax_query( $tier );
		$query->set( 'tax_query', $tax_query );
	}
	if ( 'mmlq_score' === $query->get( 'orderby' ) ) {
		$query->set( 'meta_key', 'mmlq_score' ); // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key
		$query->set( 'orderby', 'meta_value_num' );
	}
}
