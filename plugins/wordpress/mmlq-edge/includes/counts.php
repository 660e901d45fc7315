<?php
/**
 * Counts of the delivery states (for the settings page, the notices and the backfill).
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Delivery statuses and their counts.
 *
 * @return array<string, int>
 */
function mmlq_edge_status_counts(): array {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$rows   = $wpdb->get_results( "SELECT meta_value AS status, COUNT(*) AS n FROM {$wpdb->postmeta} WHERE meta_key = '_mmlq_edge_status' GROUP BY meta_value", ARRAY_A );
	$counts = array(
		'pending' => 0,
		'sending' => 0,
		'sent'    => 0,
		'failed'  => 0,
	);
	foreach ( (array) $rows as $row ) {
		$counts[ (string) $row['status'] ] = (int) $row['n'];
	}
	return $counts;
}

/**
 * How many images are pending (queued, being sent, or waiting for a retry).
 */
function mmlq_edge_pending_count(): int {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	return (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$wpdb->postmeta} WHERE meta_key = '_mmlq_edge_status' AND meta_value IN ( 'pending', 'sending' )" );
}
