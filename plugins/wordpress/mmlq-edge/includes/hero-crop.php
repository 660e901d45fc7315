<?php
/**
 * Applying a smart crop the WordPress way: an edited copy. The original stays as it is; the crop is a
 * new image in the media library (cut with wp_get_image_editor(), like the Customizer's cropped header
 * images and site icons), attached to the post, with its own metadata and sub-sizes, so that themes get
 * the srcset of the cropped image and the copy is scored like any upload.
 *
 * Why not an image sub-size: sub-sizes are site-wide (add_image_size() applies to every image and
 * crops by fixed anchors only), while a smart crop is one box per image; a sub-size named for it would
 * be overwritten whenever sizes are regenerated and would not be chosen by themes as the featured image.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * The crop's key stored with the copy (`_mmlq_edge_crop_box`), e.g. "16:9:0,41,1024,576".
 *
 * @param array{aspect: string, left: int, top: int, width: int, height: int} $box Crop box.
 */
function mmlq_edge_crop_key( array $box ): string {
	return sprintf( '%s:%d,%d,%d,%d', $box['aspect'], $box['left'], $box['top'], $box['width'], $box['height'] );
}

/**
 * The copy of `$source` cut to `$box` and attached to `$post_id`: the one made before for the same
 * image, box and post if it still has its file, else a new one.
 *
 * @param int                                                                  $source  Attachment ID.
 * @param array{aspect: string, left: int, top: int, width: int, height: int} $box     Crop box in the attached file's pixels.
 * @param int                                                                  $post_id The post the copy is attached to.
 * @return array{id: int, created: bool}|WP_Error
 */
function mmlq_edge_crop_copy( int $source, array $box, int $post_id ) {
	$key      = mmlq_edge_crop_key( $box );
	$existing = get_posts(
		array(
			'post_type'        => 'attachment',
			'post_status'      => 'inherit',
			'post_parent'      => $post_id,
			'numberposts'      => 1,
			'fields'           => 'ids',
			'suppress_filters' => true,
			// phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_query -- one lookup per crop request.
			'meta_query'       => array(
				array(
					'key'   => '_mmlq_edge_crop_of',
					'value' => (string) $source,
				),
				array(
					'key'   => '_mmlq_edge_crop_box',
					'value' => $key,
				),
			),
		)
	);
	if ( $existing ) {
		$file = get_attached_file( (int) $existing[0] );
		if ( $file && file_exists( $file ) ) {
			return array(
				'id'      => (int) $existing[0],
				'created' => false,
			);
		}
	}

	$fail = static fn( string $message ): WP_Error => new WP_Error( 'mmlq_edge_crop_failed', $message, array( 'status' => 500 ) );
	$file = get_attached_file( $source );
	if ( ! $file || ! file_exists( $file ) ) {
		return $fail( __( 'The image\'s file is missing.', 'mmlq-edge' ) );
	}
	$editor = wp_get_image_editor( $file );
	if ( is_wp_error( $editor ) ) {
		return $fail( $editor->get_error_message() );
	}
	$size = $editor->get_size();
	if ( $box['left'] + $box['width'] > $size['width'] || $box['top'] + $box['height'] > $size['height'] ) {
		return new WP_Error( 'mmlq_edge_no_crop', __( 'The stored crop does not fit the image\'s file (score it again).', 'mmlq-edge' ), array( 'status' => 409 ) );
	}
	$cropped = $editor->crop( $box['left'], $box['top'], $box['width'], $box['height'] );
	if ( is_wp_error( $cropped ) ) {
		return $fail( $cropped->get_error_message() );
	}
	// "photo-hero-16-9.jpg": not "16x9", which WordPress would take for a sub-size's name and rename.
	$info  = pathinfo( $file );
	$stem  = preg_replace( '/-(scaled|rotated)$/', '', $info['filename'] );
	$ext   = isset( $info['extension'] ) ? '.' . $info['extension'] : '';
	$name  = wp_unique_filename( $info['dirname'], $stem . '-hero-' . str_replace( ':', '-', $box['aspect'] ) . $ext );
	$saved = $editor->save( trailingslashit( $info['dirname'] ) . $name );
	if ( is_wp_error( $saved ) ) {
		return $fail( $saved->get_error_message() );
	}

	$original = get_post( $source );
	$id       = wp_insert_attachment(
		array(
			'post_mime_type' => $saved['mime-type'],
			/* translators: 1: the original image's title, 2: aspect ratio, e.g. 16:9. */
			'post_title'     => sprintf( __( '%1$s (%2$s crop)', 'mmlq-edge' ), $original->post_title, $box['aspect'] ),
			'post_excerpt'   => $original->post_excerpt,
			'post_content'   => '',
			'post_status'    => 'inherit',
			'guid'           => trailingslashit( dirname( (string) wp_get_attachment_url( $source ) ) ) . wp_basename( $saved['path'] ),
		),
		$saved['path'],
		$post_id,
		true
	);
	if ( is_wp_error( $id ) ) {
		wp_delete_file( $saved['path'] );
		return $fail( $id->get_error_message() );
	}
	update_post_meta( $id, '_mmlq_edge_crop_of', $source );
	update_post_meta( $id, '_mmlq_edge_crop_box', $key );
	$alt = get_post_meta( $source, '_wp_attachment_image_alt', true );
	if ( is_string( $alt ) && '' !== $alt ) {
		update_post_meta( $id, '_wp_attachment_image_alt', $alt );
	}
	require_once ABSPATH . 'wp-admin/includes/image.php';
	wp_update_attachment_metadata( $id, wp_generate_attachment_metadata( $id, $saved['path'] ) );
	return array(
		'id'      => $id,
		'created' => true,
	);
}
