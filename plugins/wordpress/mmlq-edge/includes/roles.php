<?php
/**
 * Who may write scores: the `mmlq_edge_write_scores` capability (score meta and the tier term),
 * granted to administrators, and the `mmlq_edge_scorer` role for the user whose application password
 * the wp-webhook function uses (it can edit images and write scores, nothing else that matters: no
 * publishing, deleting, pages, users or settings).
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** The capability that writes scores. */
const MMLQ_EDGE_CAP = 'mmlq_edge_write_scores';
/** The role for wp-webhook's user. */
const MMLQ_EDGE_SCORER_ROLE = 'mmlq_edge_scorer';
/** Bumped when the roles below change; stored in the `mmlq_edge_roles` option. */
const MMLQ_EDGE_ROLES_VERSION = 1;

/**
 * Adds the roles' hook: sites that had the plugin before the roles existed get them without
 * reactivating.
 */
function mmlq_edge_register_roles(): void {
	add_action( 'init', 'mmlq_edge_maybe_add_roles' );
}

/**
 * Adds the roles once per MMLQ_EDGE_ROLES_VERSION.
 */
function mmlq_edge_maybe_add_roles(): void {
	if ( MMLQ_EDGE_ROLES_VERSION !== (int) get_option( 'mmlq_edge_roles' ) ) {
		mmlq_edge_add_roles();
	}
}

/**
 * The capability for administrators, and the scorer role: it reads and edits other users' media (and,
 * as WordPress ties media to posts, could edit other users' unpublished posts), reads images of private
 * posts, and writes scores.
 */
function mmlq_edge_add_roles(): void {
	$admin = get_role( 'administrator' );
	if ( $admin ) {
		$admin->add_cap( MMLQ_EDGE_CAP );
	}
	remove_role( MMLQ_EDGE_SCORER_ROLE );
	add_role(
		MMLQ_EDGE_SCORER_ROLE,
		__( 'MMLQ Edge scorer', 'mmlq-edge' ),
		array(
			'read'               => true,
			'edit_posts'         => true,
			'edit_others_posts'  => true,
			'read_private_posts' => true,
			MMLQ_EDGE_CAP        => true,
		)
	);
	update_option( 'mmlq_edge_roles', MMLQ_EDGE_ROLES_VERSION, false );
}
