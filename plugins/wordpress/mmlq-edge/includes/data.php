<?php
/**
 * What the plugin stores: the REST-visible score meta the function writes, the `mmlq_tier` taxonomy,
 * and the private delivery status.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the data's hooks: the taxonomy and meta on init, and who may create tier terms.
 */
function mmlq_edge_register_data_hooks(): void {
	add_action( 'init', 'mmlq_edge_register_data' );
	add_filter( 'pre_insert_term', 'mmlq_edge_pre_insert_term', 10, 2 );
}

/**
 * The tier terms, best first: slug => name.
 *
 * @return array<string, string>
 */
function mmlq_edge_tiers(): array {
	return array(
		'top'     => __( 'Top', 'mmlq-edge' ),
		'good'    => __( 'Good', 'mmlq-edge' ),
		'average' => __( 'Average', 'mmlq-edge' ),
		'low'     => __( 'Low', 'mmlq-edge' ),
	);
}

/**
 * The score meta keys and their REST types.
 *
 * @return array<string, string>
 */
function mmlq_edge_meta_keys(): array {
	return array(
		'mmlq_score'      => 'number',
		'mmlq_std'        => 'number',
		'mmlq_percentile' => 'number',
		'mmlq_tier'       => 'string',
		'mmlq_model'      => 'string',
		'mmlq_scored_at'  => 'string',
		'mmlq_attributes' => 'string',
		'mmlq_key'        => 'string',
		'mmlq_error'      => 'string',
		'mmlq_crops'      => 'string',
		'mmlq_phash'      => 'string',
	);
}

/**
 * Registers the taxonomy and the meta.
 */
function mmlq_edge_register_data(): void {
	if ( ! taxonomy_exists( 'mmlq_tier' ) ) {
		register_taxonomy(
			'mmlq_tier',
			'attachment',
			array(
				'labels'                => array(
					'name'          => __( 'Aesthetic tiers', 'mmlq-edge' ),
					'singular_name' => __( 'Aesthetic tier', 'mmlq-edge' ),
					'menu_name'     => __( 'Aesthetic tiers', 'mmlq-edge' ),
					'all_items'     => __( 'All tiers', 'mmlq-edge' ),
					'edit_item'     => __( 'Edit tier', 'mmlq-edge' ),
					'search_items'  => __( 'Search tiers', 'mmlq-edge' ),
					'not_found'     => __( 'No tiers found.', 'mmlq-edge' ),
				),
				'description'           => __( 'The aesthetic tier MMLQ Edge assigned to an image.', 'mmlq-edge' ),
				'hierarchical'          => false,
				'public'                => false,
				'show_ui'               => true,
				'show_in_menu'          => true,
				'show_in_nav_menus'     => false,
				'show_tagcloud'         => false,
				'show_in_quick_edit'    => false,
				'meta_box_cb'           => false,
				'show_admin_column'     => true,
				'show_in_rest'          => true,
				'rest_base'             => 'mmlq_tier',
				'query_var'             => false,
				'rewrite'               => false,
				'update_count_callback' => '_update_generic_term_count',
				// Tiers are scores: only users with the plugin's capability (administrators and the
				// mmlq_edge_scorer role that wp-webhook's user has, see includes/roles.php) assign them, look
				// them up with `context=edit` (edit_terms) and create a missing one. The tiers screen and
				// deleting stay with administrators.
				'capabilities'          => array(
					'manage_terms' => 'manage_options',
					'edit_terms'   => MMLQ_EDGE_CAP,
					'delete_terms' => 'manage_options',
					'assign_terms' => MMLQ_EDGE_CAP,
				),
			)
		);
	}

	$registered = get_registered_meta_keys( 'post', 'attachment' );
	foreach ( mmlq_edge_meta_keys() as $key => $type ) {
		if ( isset( $registered[ $key ] ) ) {
			continue;
		}
		/**
		 * Filters whether a score meta key is readable in the REST API's `view` context, that is by anyone
		 * who may read the attachment (for an image of a published post or an unattached one: everyone,
		 * logged out too). Default false: the keys are in the `edit` context only, for users who can edit
		 * the attachment (the wp-webhook function reads with `context=edit`). Return true for the keys a
		 * public front end needs (e.g. mmlq_score and mmlq_tier); mmlq_key holds the file's hash and
		 * should stay private. Add the filter before `init` (in a plugin's main file or a must-use
		 * plugin). Only the meta: the `mmlq_tier` term stays visible like any REST taxonomy.
		 *
		 * @param bool   $public   Whether `view` requests see the key.
		 * @param string $meta_key The key: mmlq_score, mmlq_std, mmlq_percentile, mmlq_tier, mmlq_model,
		 *                         mmlq_scored_at, mmlq_attributes, mmlq_key, mmlq_error, mmlq_crops or
		 *                         mmlq_phash.
		 */
		$public = (bool) apply_filters( 'mmlq_edge_rest_public_meta', false, $key );
		register_post_meta(
			'attachment',
			$key,
			array(
				'type'          => $type,
				'single'        => true,
				'show_in_rest'  => $public ? true : array( 'schema' => array( 'context' => array( 'edit' ) ) ),
				'auth_callback' => 'mmlq_edge_meta_auth',
			)
		);
	}
}

/**
 * Over REST, new tier terms only from users who may edit tiers: WordPress lets anyone who may assign the
 * terms of a flat taxonomy create them (upload_files here), which would let authors add tiers.
 *
 * @param string|WP_Error $term     The term name, or an error from an earlier filter.
 * @param string          $taxonomy The taxonomy.
 * @return string|WP_Error
 */
function mmlq_edge_pre_insert_term( $term, $taxonomy ) {
	if ( 'mmlq_tier' !== $taxonomy || is_wp_error( $term ) || ! defined( 'REST_REQUEST' ) || ! REST_REQUEST ) {
		return $term;
	}
	$tax = get_taxonomy( 'mmlq_tier' );
	if ( $tax && ! current_user_can( $tax->cap->edit_terms ) ) {
		return new WP_Error(
			'rest_cannot_create',
			__( 'Sorry, you are not allowed to create aesthetic tiers.', 'mmlq-edge' ),
			array( 'status' => rest_authorization_required_code() )
		);
	}
	return $term;
}

/**
 * Who may write the score meta: users with the plugin's capability (MMLQ_EDGE_CAP) who may edit the
 * attachment. Without the capability an author could score their own image and win best-image.
 *
 * @param bool   $allowed   Whether allowed so far.
 * @param string $meta_key  The key.
 * @param int    $object_id The attachment.
 */
function mmlq_edge_meta_auth( $allowed, $meta_key, $object_id ): bool {
	return current_user_can( MMLQ_EDGE_CAP ) && current_user_can( 'edit_post', (int) $object_id );
}

/**
 * Whether the post is an image attachment.
 *
 * @param int $id Post ID.
 */
function mmlq_edge_is_image( int $id ): bool {
	$post = get_post( $id );
	return $post instanceof WP_Post && 'attachment' === $post->post_type && str_starts_with( (string) $post->post_mime_type, 'image/' );
}

/**
 * Whether the function has written a score.
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_has_score( int $id ): bool {
	return metadata_exists( 'post', $id, 'mmlq_score' ) && '' !== get_post_meta( $id, 'mmlq_score', true );
}

/**
 * The delivery state of an attachment.
 *
 * @param int $id Attachment ID.
 * @return array{status: string, attempts: int, last_error: string, event: string}
 */
function mmlq_edge_state( int $id ): array {
	return array(
		'status'     => (string) get_post_meta( $id, '_mmlq_edge_status', true ),
		'attempts'   => (int) get_post_meta( $id, '_mmlq_edge_attempts', true ),
		'last_error' => (string) get_post_meta( $id, '_mmlq_edge_last_error', true ),
		'event'      => (string) get_post_meta( $id, '_mmlq_edge_event', true ),
	);
}

/**
 * The score, tier and details the function wrote, or null when there is no score.
 *
 * @param int $id Attachment ID.
 * @return array{score: float, std: float|null, percentile: float|null, tier: string|null, model: string, scored_at: string, attributes: array<string, float>}|null
 */
function mmlq_edge_score( int $id ): ?array {
	if ( ! mmlq_edge_has_score( $id ) ) {
		return null;
	}
	$tier  = (string) get_post_meta( $id, 'mmlq_tier', true );
	$terms = get_the_terms( $id, 'mmlq_tier' );
	if ( is_array( $terms ) && $terms ) {
		$tier = $terms[0]->slug;
	}
	$attributes = json_decode( (string) get_post_meta( $id, 'mmlq_attributes', true ), true );
	$clean      = array();
	if ( is_array( $attributes ) ) {
		foreach ( $attributes as $label => $value ) {
			if ( is_numeric( $value ) ) {
				$clean[ (string) $label ] = (float) $value;
			}
		}
		arsort( $clean );
	}
	$num = static function ( string $key ) use ( $id ): ?float {
		$v = get_post_meta( $id, $key, true );
		return ( '' === $v || ! is_numeric( $v ) ) ? null : (float) $v;
	};
	return array(
		'score'      => (float) get_post_meta( $id, 'mmlq_score', true ),
		'std'        => $num( 'mmlq_std' ),
		'percentile' => $num( 'mmlq_percentile' ),
		'tier'       => '' === $tier ? null : $tier,
		'model'      => (string) get_post_meta( $id, 'mmlq_model', true ),
		'scored_at'  => (string) get_post_meta( $id, 'mmlq_scored_at', true ),
		'attributes' => $clean,
	);
}

/**
 * A tier's display name.
 *
 * @param string|null $slug Tier slug.
 */
function mmlq_edge_tier_name( ?string $slug ): string {
	if ( null === $slug || '' === $slug ) {
		return '';
	}
	$tiers = mmlq_edge_tiers();
	return $tiers[ $slug ] ?? $slug;
}
