<?php
/**
 * Hero images: the best-scored image of a post, as a PHP function and a REST route.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the REST route's hook.
 */
function mmlq_edge_register_best_image(): void {
	add_action( 'rest_api_init', 'mmlq_edge_register_routes' );
}

/**
 * The images of a post: attached to it (post_parent), used in its content (wp-image-ID classes) or its
 * featured image, and any `$extra` ones (the block editor's unsaved content); each with its score and
 * tier, best first (unscored last).
 *
 * @param int        $post_id Post ID.
 * @param array<int> $extra   More image IDs to consider.
 * @return array<int, array{id: int, score: float|null, tier: string|null}>
 */
function mmlq_edge_image_candidates( int $post_id, array $extra = array() ): array {
	$post = get_post( $post_id );
	if ( ! $post instanceof WP_Post ) {
		return array();
	}
	$ids = get_children(
		array(
			'post_parent'    => $post->ID,
			'post_type'      => 'attachment',
			'post_mime_type' => 'image',
			'post_status'    => 'inherit',
			'fields'         => 'ids',
			'numberposts'    => 200,
		)
	);
	$ids = array_map( 'intval', is_array( $ids ) ? array_values( $ids ) : array() );
	if ( preg_match_all( '/\bwp-image-(\d+)\b/', (string) $post->post_content, $m ) ) {
		$ids = array_merge( $ids, array_map( 'intval', $m[1] ) );
	}
	$thumbnail = (int) get_post_thumbnail_id( $post );
	if ( $thumbnail ) {
		$ids[] = $thumbnail;
	}
	$ids = array_merge( $ids, array_map( 'intval', $extra ) );
	$candidates = array();
	foreach ( array_unique( $ids ) as $id ) {
		if ( ! mmlq_edge_is_image( $id ) ) {
			continue;
		}
		$score        = mmlq_edge_score( $id );
		$candidates[] = array(
			'id'    => $id,
			'score' => null === $score ? null : $score['score'],
			'tier'  => null === $score ? null : $score['tier'],
		);
	}
	usort(
		$candidates,
		static function ( array $a, array $b ): int {
			if ( null === $a['score'] || null === $b['score'] ) {
				return ( null === $a['score'] ) <=> ( null === $b['score'] ) ?: $a['id'] <=> $b['id'];
			}
			return $b['score'] <=> $a['score'] ?: $a['id'] <=> $b['id'];
		}
	);
	return $candidates;
}

/**
 * The best-scored image of a post, or null when none of its images has a score.
 *
 * @param int $post_id Post ID.
 */
function mmlq_edge_best_image( int $post_id ): ?int {
	$candidates = mmlq_edge_image_candidates( $post_id );
	return ( $candidates && null !== $candidates[0]['score'] ) ? $candidates[0]['id'] : null;
}

/**
 * GET /wp-json/mmlq-edge/v1/posts/<id>/best-image
 */
function mmlq_edge_register_routes(): void {
	register_rest_route(
		'mmlq-edge/v1',
		'/posts/(?P<id>\d+)/best-image',
		array(
			'methods'             => WP_REST_Server::READABLE,
			'callback'            => 'mmlq_edge_rest_best_image',
			'permission_callback' => static fn( WP_REST_Request $request ) => current_user_can( 'edit_post', (int) $request['id'] ),
			'args'                => array(
				'id' => array(
					'type'     => 'integer',
					'minimum'  => 1,
					'required' => true,
				),
			),
		)
	);
}

/**
 * The route's answer: the post's images that the requesting user may read (its content can name any
 * image by its wp-image-ID class, e.g. one attached to someone else's draft), best first; `top` says
 * whether the best one's tier counts as "top" under the tier settings.
 *
 * @param WP_REST_Request $request Request.
 * @return WP_REST_Response|WP_Error
 */
function mmlq_edge_rest_best_image( WP_REST_Request $request ) {
	$post_id = (int) $request['id'];
	if ( ! get_post( $post_id ) instanceof WP_Post ) {
		return new WP_Error( 'rest_post_invalid_id', __( 'Invalid post ID.', 'mmlq-edge' ), array( 'status' => 404 ) );
	}
	$candidates = array_values(
		array_filter(
			mmlq_edge_image_candidates( $post_id ),
			static fn( array $c ): bool => current_user_can( 'read_post', $c['id'] )
		)
	);
	$best       = ( $candidates && null !== $candidates[0]['score'] ) ? $candidates[0] : null;
	return rest_ensure_response(
		array(
			'post'       => $post_id,
			'attachment' => $best ? $best['id'] : null,
			'score'      => $best ? $best['score'] : null,
			'tier'       => $best ? $best['tier'] : null,
			// Whether the pick is good enough to be a hero: its tier is at least Settings → MMLQ Edge →
			// Tiers → "Counts as top" (on the library basis: among this site's best).
			'top'        => $best && mmlq_edge_tier_counts_as_top( $best['tier'] ),
			'candidates' => $candidates,
		)
	);
}
