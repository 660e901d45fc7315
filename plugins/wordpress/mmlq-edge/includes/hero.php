<?php
/**
 * The hero picker's data: a post's candidate images best first with the weakest attributes, near
 * duplicates collapsed by perceptual hash, the smart crop for the site's featured-image aspect; the
 * REST routes the block editor's "Hero image" panel calls; the featured image set on publish.
 *
 * The crop itself (an edited copy) is includes/hero-crop.php; the panel is assets/hero-panel.js,
 * registered by includes/admin/hero-panel.php.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** Two images whose `mmlq_phash` differ in at most this many of 64 bits are the same photo. */
const MMLQ_EDGE_PHASH_SAME = 10;
/** Attributes below this are shown as weak (as the CLI's "weakest" column does). */
const MMLQ_EDGE_WEAK_ATTRIBUTE = 0.9;

/**
 * Adds the hero picker's hooks: its REST routes and the featured image on publish.
 */
function mmlq_edge_register_hero(): void {
	add_action( 'rest_api_init', 'mmlq_edge_register_hero_routes' );
	add_action( 'wp_after_insert_post', 'mmlq_edge_hero_on_publish', 10, 4 );
}

/**
 * The site's featured-image aspect ratio: the first entry of the `crop_aspects` setting (a list, or a
 * comma-separated string, of "W:H"), else 16:9.
 *
 * @return string E.g. "16:9".
 */
function mmlq_edge_hero_aspect(): string {
	$stored  = get_option( 'mmlq_edge_settings', array() );
	$aspects = is_array( $stored ) && isset( $stored['crop_aspects'] ) ? $stored['crop_aspects'] : array();
	if ( is_string( $aspects ) ) {
		$aspects = explode( ',', $aspects );
	}
	foreach ( is_array( $aspects ) ? $aspects : array() as $aspect ) {
		$aspect = is_string( $aspect ) ? trim( $aspect ) : '';
		if ( null !== mmlq_edge_parse_aspect( $aspect ) ) {
			return $aspect;
		}
	}
	return '16:9';
}

/**
 * An aspect ratio "W:H" as two positive integers, or null when it is not one.
 *
 * @param string $aspect E.g. "16:9".
 * @return array{0: int, 1: int}|null
 */
function mmlq_edge_parse_aspect( string $aspect ): ?array {
	if ( ! preg_match( '/^([1-9]\d{0,2}):([1-9]\d{0,2})$/', $aspect, $m ) ) {
		return null;
	}
	return array( (int) $m[1], (int) $m[2] );
}

/**
 * The stored perceptual hash of an image (`mmlq_phash`: 16 lowercase hex digits), or null.
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_phash( int $id ): ?string {
	$hash = get_post_meta( $id, 'mmlq_phash', true );
	return is_string( $hash ) && preg_match( '/^[0-9a-f]{16}$/', $hash ) ? $hash : null;
}

/**
 * The Hamming distance of two 64-bit hashes in hex (compared 16 bits at a time: PHP's integers are
 * signed 64-bit, so a whole hash does not fit).
 *
 * @param string $a 16 hex digits.
 * @param string $b 16 hex digits.
 */
function mmlq_edge_phash_distance( string $a, string $b ): int {
	$bits = 0;
	for ( $i = 0; $i < 16; $i += 4 ) {
		$bits += substr_count( decbin( hexdec( substr( $a, $i, 4 ) ) ^ hexdec( substr( $b, $i, 4 ) ) ), '1' );
	}
	return $bits;
}

/**
 * The full-size pixel dimensions of an image (those the scorer saw: the attached file), or null.
 *
 * @param int $id Attachment ID.
 * @return array{0: int, 1: int}|null
 */
function mmlq_edge_image_size( int $id ): ?array {
	$meta = wp_get_attachment_metadata( $id );
	if ( is_array( $meta ) && ! empty( $meta['width'] ) && ! empty( $meta['height'] ) ) {
		return array( (int) $meta['width'], (int) $meta['height'] );
	}
	return null;
}

/**
 * The stored smart crop of an image for an aspect ratio (`mmlq_crops`: a JSON array of
 * {aspect, left, top, width, height, score} in the attached file's pixels), or null when there is
 * none or it does not fit inside the image (e.g. the file was edited after scoring).
 *
 * @param int    $id     Attachment ID.
 * @param string $aspect E.g. "16:9".
 * @return array{aspect: string, left: int, top: int, width: int, height: int, score: float|null}|null
 */
function mmlq_edge_crop( int $id, string $aspect ): ?array {
	$crops = json_decode( (string) get_post_meta( $id, 'mmlq_crops', true ), true );
	$size  = mmlq_edge_image_size( $id );
	if ( ! is_array( $crops ) || null === $size ) {
		return null;
	}
	foreach ( $crops as $crop ) {
		if ( ! is_array( $crop ) || ( $crop['aspect'] ?? null ) !== $aspect ) {
			continue;
		}
		foreach ( array( 'left', 'top', 'width', 'height' ) as $key ) {
			if ( ! isset( $crop[ $key ] ) || ! is_numeric( $crop[ $key ] ) ) {
				return null;
			}
		}
		$box = array(
			'aspect' => $aspect,
			'left'   => (int) round( (float) $crop['left'] ),
			'top'    => (int) round( (float) $crop['top'] ),
			'width'  => (int) round( (float) $crop['width'] ),
			'height' => (int) round( (float) $crop['height'] ),
			'score'  => isset( $crop['score'] ) && is_numeric( $crop['score'] ) ? (float) $crop['score'] : null,
		);
		$fits = $box['left'] >= 0 && $box['top'] >= 0 && $box['width'] >= 1 && $box['height'] >= 1
			&& $box['left'] + $box['width'] <= $size[0] && $box['top'] + $box['height'] <= $size[1];
		return $fits ? $box : null;
	}
	return null;
}

/**
 * The weakest attributes of a score, lowest first: those below MMLQ_EDGE_WEAK_ATTRIBUTE, at most three.
 *
 * @param array<string, float> $attributes Attribute => condition in [0, 1], 1 = no defect.
 * @return array<int, array{label: string, value: float}>
 */
function mmlq_edge_weakest_attributes( array $attributes ): array {
	asort( $attributes );
	$weak = array();
	foreach ( $attributes as $label => $value ) {
		if ( $value < MMLQ_EDGE_WEAK_ATTRIBUTE && count( $weak ) < 3 ) {
			$weak[] = array(
				'label' => (string) $label,
				'value' => round( $value, 2 ),
			);
		}
	}
	return $weak;
}

/**
 * What the panel shows about an unscored image: queued, failed (with why) or not sent.
 *
 * @param int $id Attachment ID.
 * @return array{state: string, message: string}
 */
function mmlq_edge_unscored_state( int $id ): array {
	$state = mmlq_edge_state( $id );
	$error = (string) get_post_meta( $id, 'mmlq_error', true );
	if ( '' !== $error ) {
		return array(
			'state'   => 'error',
			/* translators: %s: why the image could not be scored. */
			'message' => sprintf( __( 'Not scored: %s', 'mmlq-edge' ), $error ),
		);
	}
	switch ( $state['status'] ) {
		case 'pending':
		case 'sending':
		case 'sent':
			return array(
				'state'   => 'queued',
				'message' => __( 'Not scored yet: queued for scoring.', 'mmlq-edge' ),
			);
		case 'failed':
			return array(
				'state'   => 'failed',
				/* translators: %s: the delivery error. */
				'message' => sprintf( __( 'Not scored: sending failed (%s).', 'mmlq-edge' ), $state['last_error'] ),
			);
		default:
			return array(
				'state'   => 'unscored',
				'message' => __( 'Not scored.', 'mmlq-edge' ),
			);
	}
}

/**
 * One candidate as the panel shows it.
 *
 * @param int    $id       Attachment ID.
 * @param string $aspect   The featured-image aspect.
 * @param int    $featured The post's featured image (0: none).
 * @return array<string, mixed>
 */
function mmlq_edge_hero_candidate( int $id, string $aspect, int $featured ): array {
	$score  = mmlq_edge_score( $id );
	$size   = mmlq_edge_image_size( $id );
	$thumb  = wp_get_attachment_image_src( $id, 'medium' );
	$large  = wp_get_attachment_image_src( $id, 'large' );
	$item   = array(
		'id'         => $id,
		// Raw: the panel renders text, not HTML (get_the_title() would add entities).
		'title'      => (string) get_post_field( 'post_title', $id, 'raw' ),
		'alt'        => (string) get_post_meta( $id, '_wp_attachment_image_alt', true ),
		'thumbnail'  => is_array( $thumb ) ? (string) $thumb[0] : '',
		'preview'    => is_array( $large ) ? (string) $large[0] : '',
		'width'      => null === $size ? null : $size[0],
		'height'     => null === $size ? null : $size[1],
		'featured'   => $id === $featured,
		'scored'     => null !== $score,
		'score'      => null === $score ? null : round( $score['score'], 2 ),
		'tier'       => null === $score ? null : $score['tier'],
		'tier_name'  => null === $score ? '' : mmlq_edge_tier_name( $score['tier'] ),
		'percentile' => null === $score || null === $score['percentile'] ? null : round( $score['percentile'], 1 ),
		'weakest'    => null === $score ? array() : mmlq_edge_weakest_attributes( $score['attributes'] ),
		'phash'      => mmlq_edge_phash( $id ),
		'crop'       => mmlq_edge_crop( $id, $aspect ),
		'crop_of'    => (int) get_post_meta( $id, '_mmlq_edge_crop_of', true ) ?: null,
		'similar'    => array(),
	);
	if ( null === $score ) {
		$item['status'] = mmlq_edge_unscored_state( $id );
	}
	return $item;
}

/**
 * Collapses near-duplicates: walking the list best first, an image whose perceptual hash is within
 * MMLQ_EDGE_PHASH_SAME bits of an earlier kept one joins it (as `similar`) instead of being listed.
 * Images without a hash are never collapsed.
 *
 * @param array<int, array<string, mixed>> $candidates Best first.
 * @return array<int, array<string, mixed>> The kept ones, best first, each with `similar`.
 */
function mmlq_edge_collapse_similar( array $candidates ): array {
	$kept = array();
	foreach ( $candidates as $candidate ) {
		$home = null;
		if ( null !== $candidate['phash'] ) {
			foreach ( $kept as $k => $leader ) {
				if ( null !== $leader['phash'] && mmlq_edge_phash_distance( $leader['phash'], $candidate['phash'] ) <= MMLQ_EDGE_PHASH_SAME ) {
					$home = $k;
					break;
				}
			}
		}
		if ( null === $home ) {
			$kept[] = $candidate;
			continue;
		}
		$kept[ $home ]['similar'][] = array(
			'id'       => $candidate['id'],
			'score'    => $candidate['score'],
			'width'    => $candidate['width'],
			'height'   => $candidate['height'],
			'featured' => $candidate['featured'],
		);
	}
	return $kept;
}

/**
 * The hero picker's view of a post: its candidates (see mmlq_edge_image_candidates(), plus `$extra`
 * images the editor shows but has not saved yet) that `$user_id` may read, best first, near-duplicates
 * collapsed.
 *
 * @param int        $post_id  Post ID.
 * @param int        $featured The featured image the editor shows (0: none).
 * @param array<int> $extra    More image IDs (the editor's unsaved content).
 * @param int        $user_id  Whose read permission filters the list.
 * @return array{post: int, aspect: string, featured: int, on_publish: bool, candidates: array}
 */
function mmlq_edge_hero( int $post_id, int $featured, array $extra, int $user_id ): array {
	$aspect = mmlq_edge_hero_aspect();
	$ids    = array_merge( $featured ? array( $featured ) : array(), $extra );
	$items  = array();
	foreach ( mmlq_edge_image_candidates( $post_id, $ids ) as $candidate ) {
		if ( user_can( $user_id, 'read_post', $candidate['id'] ) ) {
			$items[] = mmlq_edge_hero_candidate( $candidate['id'], $aspect, $featured );
		}
	}
	return array(
		'post'       => $post_id,
		'aspect'     => $aspect,
		'featured'   => $featured,
		'on_publish' => mmlq_edge_settings()['hero_on_publish'],
		'candidates' => mmlq_edge_collapse_similar( $items ),
	);
}

/**
 * GET  /wp-json/mmlq-edge/v1/posts/<id>/hero       the panel's list.
 * POST /wp-json/mmlq-edge/v1/posts/<id>/hero/crop  an edited copy of an image cut to its smart crop.
 */
function mmlq_edge_register_hero_routes(): void {
	$id = array(
		'type'     => 'integer',
		'minimum'  => 1,
		'required' => true,
	);
	register_rest_route(
		'mmlq-edge/v1',
		'/posts/(?P<id>\d+)/hero',
		array(
			'methods'             => WP_REST_Server::READABLE,
			'callback'            => 'mmlq_edge_rest_hero',
			'permission_callback' => 'mmlq_edge_rest_hero_permission',
			'args'                => array(
				'id'       => $id,
				'featured' => array(
					'description' => __( 'The featured image the editor shows, saved or not (0: none). Default: the saved one.', 'mmlq-edge' ),
					'type'        => 'integer',
					'minimum'     => 0,
				),
				'include'  => array(
					'description' => __( 'More images to consider: those in the editor\'s unsaved content.', 'mmlq-edge' ),
					'type'        => 'array',
					'items'       => array(
						'type'    => 'integer',
						'minimum' => 1,
					),
					'maxItems'    => 100,
					'default'     => array(),
				),
			),
		)
	);
	register_rest_route(
		'mmlq-edge/v1',
		'/posts/(?P<id>\d+)/hero/crop',
		array(
			'methods'             => WP_REST_Server::CREATABLE,
			'callback'            => 'mmlq_edge_rest_hero_crop',
			'permission_callback' => 'mmlq_edge_rest_hero_crop_permission',
			'args'                => array(
				'id'         => $id,
				'attachment' => array(
					'description' => __( 'The image to crop.', 'mmlq-edge' ),
					'type'        => 'integer',
					'minimum'     => 1,
					'required'    => true,
				),
				'aspect'     => array(
					'description' => __( 'The crop\'s aspect ratio, W:H (default: the site\'s featured-image aspect). The box is the one stored with the score.', 'mmlq-edge' ),
					'type'        => 'string',
					'pattern'     => '^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$',
				),
			),
		)
	);
}

/**
 * Who may see a post's hero candidates: users who may edit the post.
 *
 * @param WP_REST_Request $request Request.
 */
function mmlq_edge_rest_hero_permission( WP_REST_Request $request ): bool {
	return current_user_can( 'edit_post', (int) $request['id'] );
}

/**
 * Who may crop: users who may edit the post and upload files (the crop is a new file in the library).
 *
 * @param WP_REST_Request $request Request.
 */
function mmlq_edge_rest_hero_crop_permission( WP_REST_Request $request ): bool {
	return current_user_can( 'edit_post', (int) $request['id'] ) && current_user_can( 'upload_files' );
}

/**
 * The post, or a 404 error.
 *
 * @param int $post_id Post ID.
 * @return WP_Post|WP_Error
 */
function mmlq_edge_rest_post( int $post_id ) {
	$post = get_post( $post_id );
	if ( ! $post instanceof WP_Post || 'attachment' === $post->post_type ) {
		return new WP_Error( 'rest_post_invalid_id', __( 'Invalid post ID.', 'mmlq-edge' ), array( 'status' => 404 ) );
	}
	return $post;
}

/**
 * GET …/hero.
 *
 * @param WP_REST_Request $request Request.
 * @return WP_REST_Response|WP_Error
 */
function mmlq_edge_rest_hero( WP_REST_Request $request ) {
	$post = mmlq_edge_rest_post( (int) $request['id'] );
	if ( is_wp_error( $post ) ) {
		return $post;
	}
	$featured = null === $request['featured'] ? (int) get_post_thumbnail_id( $post ) : (int) $request['featured'];
	$extra    = array_map( 'intval', (array) $request['include'] );
	return rest_ensure_response( mmlq_edge_hero( $post->ID, $featured, $extra, get_current_user_id() ) );
}

/**
 * POST …/hero/crop: the edited copy (made once per image and box; a repeat returns the same copy).
 *
 * @param WP_REST_Request $request Request.
 * @return WP_REST_Response|WP_Error
 */
function mmlq_edge_rest_hero_crop( WP_REST_Request $request ) {
	$post = mmlq_edge_rest_post( (int) $request['id'] );
	if ( is_wp_error( $post ) ) {
		return $post;
	}
	$source = (int) $request['attachment'];
	if ( ! mmlq_edge_is_image( $source ) ) {
		return new WP_Error( 'mmlq_edge_not_an_image', __( 'The attachment is not an image.', 'mmlq-edge' ), array( 'status' => 400 ) );
	}
	if ( ! current_user_can( 'read_post', $source ) ) {
		return new WP_Error( 'rest_forbidden', __( 'Sorry, you are not allowed to use this image.', 'mmlq-edge' ), array( 'status' => rest_authorization_required_code() ) );
	}
	$aspect = null === $request['aspect'] ? mmlq_edge_hero_aspect() : (string) $request['aspect'];
	$box    = mmlq_edge_crop( $source, $aspect );
	if ( null === $box ) {
		return new WP_Error(
			'mmlq_edge_no_crop',
			/* translators: %s: aspect ratio, e.g. 16:9. */
			sprintf( __( 'The image has no stored %s crop that fits it (score it again).', 'mmlq-edge' ), $aspect ),
			array( 'status' => 409 )
		);
	}
	$result = mmlq_edge_crop_copy( $source, $box, $post->ID );
	if ( is_wp_error( $result ) ) {
		return $result;
	}
	$size     = mmlq_edge_image_size( $result['id'] );
	$response = rest_ensure_response(
		array(
			'id'      => $result['id'],
			'created' => $result['created'],
			'source'  => $source,
			'box'     => $box,
			'width'   => null === $size ? null : $size[0],
			'height'  => null === $size ? null : $size[1],
			'url'     => (string) wp_get_attachment_url( $result['id'] ),
		)
	);
	$response->set_status( $result['created'] ? 201 : 200 );
	return $response;
}

/**
 * When the "featured image on publish" setting is on and a post that supports featured images is
 * first published without one, its best-scored candidate that the post's author may read becomes it.
 * Runs on wp_after_insert_post, after the REST API has saved the post's own featured_media.
 *
 * @param int          $post_id     Post ID.
 * @param WP_Post      $post        The post.
 * @param bool         $update      Whether this was an update.
 * @param WP_Post|null $post_before The post before, null for a new one.
 */
function mmlq_edge_hero_on_publish( $post_id, $post, $update, $post_before ): void {
	if ( ! $post instanceof WP_Post || 'publish' !== $post->post_status || ! mmlq_edge_settings()['hero_on_publish'] ) {
		return;
	}
	if ( ( $post_before instanceof WP_Post && 'publish' === $post_before->post_status ) || wp_is_post_revision( $post ) || wp_is_post_autosave( $post ) ) {
		return;
	}
	if ( ! post_type_supports( $post->post_type, 'thumbnail' ) || has_post_thumbnail( $post ) ) {
		return;
	}
	foreach ( mmlq_edge_image_candidates( $post->ID ) as $candidate ) {
		if ( null !== $candidate['score'] && user_can( (int) $post->post_author, 'read_post', $candidate['id'] ) ) {
			set_post_thumbnail( $post, $candidate['id'] );
			return;
		}
	}
}
