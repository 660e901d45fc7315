<?php
/**
 * The webhook body of an event.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * The webhook body for an event.
 *
 * @param string   $event `attachment.upload`, `attachment.rescore` or `ping`.
 * @param int|null $id    Attachment ID (not for ping).
 * @return array|WP_Error
 */
function mmlq_edge_payload( string $event, ?int $id = null ) {
	$body = array(
		'event'   => $event,
		'site'    => home_url( '/' ),
		'restUrl' => rest_url(),
		'sentAt'  => gmdate( 'c' ),
	);
	if ( 'ping' === $event ) {
		return $body;
	}
	$post = get_post( (int) $id );
	if ( ! $post instanceof WP_Post || ! mmlq_edge_is_image( $post->ID ) ) {
		return new WP_Error( 'NOT_AN_IMAGE', __( 'The attachment is gone or is not an image.', 'mmlq-edge' ) );
	}
	$file = get_attached_file( $post->ID );
	if ( ! $file || ! is_readable( $file ) ) {
		return new WP_Error( 'FILE_MISSING', __( 'The image file is missing on this server.', 'mmlq-edge' ) );
	}
	$meta   = wp_get_attachment_metadata( $post->ID );
	$width  = is_array( $meta ) && isset( $meta['width'] ) ? (int) $meta['width'] : 0;
	$height = is_array( $meta ) && isset( $meta['height'] ) ? (int) $meta['height'] : 0;
	if ( ! $width || ! $height ) {
		$size = function_exists( 'wp_getimagesize' ) ? wp_getimagesize( $file ) : false;
		if ( is_array( $size ) ) {
			$width  = (int) $size[0];
			$height = (int) $size[1];
		}
	}
	$attachment = array(
		'id'          => $post->ID,
		'url'         => (string) wp_get_attachment_url( $post->ID ),
		'mime'        => (string) $post->post_mime_type,
		'sha256'      => (string) hash_file( 'sha256', $file ),
		'width'       => $width,
		'height'      => $height,
		'title'       => mmlq_edge_clip( $post->post_title, 2000 ),
		'caption'     => mmlq_edge_clip( $post->post_excerpt, 10000 ),
		'alt'         => mmlq_edge_clip( (string) get_post_meta( $post->ID, '_wp_attachment_image_alt', true ), 2000 ),
		'description' => mmlq_edge_clip( $post->post_content, 20000 ),
	);
	if ( ! $width || ! $height ) {
		unset( $attachment['width'], $attachment['height'] );
	}
	if ( mmlq_edge_settings()['include_comments'] ) {
		$comments = get_comments(
			array(
				'post_id' => $post->ID,
				'status'  => 'approve',
				'type'    => 'comment',
				'number'  => 10,
				'orderby' => 'comment_date_gmt',
				'order'   => 'DESC',
			)
		);
		$attachment['comments'] = array_values(
			array_map( static fn( $c ) => mmlq_edge_clip( $c->comment_content, 5000 ), is_array( $comments ) ? $comments : array() )
		);
	}
	$crops = mmlq_edge_parse_aspects( mmlq_edge_settings()['crop_aspects'] ) ?? array();
	if ( $crops ) {
		// The best crop per aspect comes back with the score (meta mmlq_crops).
		$attachment['crops'] = $crops;
	}
	$body['attachment'] = $attachment;
	return $body;
}

/**
 * At most $max characters.
 *
 * @param string $text Text.
 * @param int    $max  Characters.
 */
function mmlq_edge_clip( string $text, int $max ): string {
	return mb_strlen( $text ) > $max ? mb_substr( $text, 0, $max ) : $text;
}
