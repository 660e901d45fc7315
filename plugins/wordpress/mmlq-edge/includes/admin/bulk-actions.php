<?php
/**
 * The media list's bulk action "Score with MMLQ Edge".
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the bulk action's hooks.
 */
function mmlq_edge_register_bulk_actions(): void {
	add_filter( 'bulk_actions-upload', 'mmlq_edge_bulk_actions' );
	add_filter( 'handle_bulk_actions-upload', 'mmlq_edge_handle_bulk', 10, 3 );
}

/**
 * "Score with MMLQ Edge" in the bulk actions.
 *
 * @param array $actions Actions.
 */
function mmlq_edge_bulk_actions( array $actions ): array {
	// Escaped here: WordPress 6.1 prints bulk action labels as they are.
	$actions['mmlq_edge_score'] = esc_html__( 'Score with MMLQ Edge', 'mmlq-edge' );
	return $actions;
}

/**
 * Queues the selected images as rescore deliveries (upload.php checked the bulk nonce).
 *
 * @param string $redirect Redirect URL.
 * @param string $action   Action.
 * @param array  $ids      Attachment IDs.
 */
function mmlq_edge_handle_bulk( $redirect, $action, $ids ): string {
	if ( 'mmlq_edge_score' !== $action ) {
		return (string) $redirect;
	}
	$queued = 0;
	foreach ( (array) $ids as $id ) {
		$id = (int) $id;
		if ( current_user_can( 'edit_post', $id ) && mmlq_edge_queue( $id, 'attachment.rescore' ) ) {
			++$queued;
		}
	}
	return add_query_arg( 'mmlq_edge_queued', $queued, remove_query_arg( 'mmlq_edge_queued', (string) $redirect ) );
}
