<?php
/**
 * The score, read-only, on the attachment screen and in the media modal.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the fields' hook.
 */
function mmlq_edge_register_attachment_fields(): void {
	add_filter( 'attachment_fields_to_edit', 'mmlq_edge_attachment_fields', 10, 2 );
}

/**
 * The score, read-only, on the attachment screen and in the media modal.
 *
 * @param array   $fields Fields.
 * @param WP_Post $post   Attachment.
 */
function mmlq_edge_attachment_fields( $fields, $post ): array {
	$fields = (array) $fields;
	if ( ! $post instanceof WP_Post || ! mmlq_edge_is_image( $post->ID ) ) {
		return $fields;
	}
	$score = mmlq_edge_score( $post->ID );
	if ( null === $score ) {
		$html = '<p>' . mmlq_edge_status_html( $post->ID ) . '</p>';
	} else {
		$tiers = mmlq_edge_tier_settings();
		$rows  = array(
			__( 'Score', 'mmlq-edge' )                      => number_format_i18n( $score['score'], 2 ) . ( null !== $score['std'] ? ' ± ' . number_format_i18n( $score['std'], 2 ) : '' ),
			__( 'Percentile in this library', 'mmlq-edge' ) => mmlq_edge_percentile_text( $score['library_percentile'] ),
			__( 'Percentile (model)', 'mmlq-edge' )         => mmlq_edge_percentile_text( $score['percentile'] ),
			/* translators: %s: "this library" or "the model", the basis of the tiers. */
			sprintf( __( 'Tier (%s)', 'mmlq-edge' ), 'library' === $tiers['basis'] ? __( 'this library', 'mmlq-edge' ) : __( 'the model', 'mmlq-edge' ) ) => null !== $score['tier'] ? mmlq_edge_tier_name( $score['tier'] ) : '—',
			__( 'Model', 'mmlq-edge' )                      => '' !== $score['model'] ? $score['model'] : '—',
			__( 'Scored', 'mmlq-edge' )                     => '' !== $score['scored_at'] ? mmlq_edge_readable_time( $score['scored_at'] ) : '—',
		);
		$html = '<table class="mmlq-edge-score widefat striped" style="max-width:100%"><tbody>';
		foreach ( $rows as $label => $value ) {
			$html .= '<tr><th scope="row">' . esc_html( $label ) . '</th><td>' . esc_html( $value ) . '</td></tr>';
		}
		if ( $score['attributes'] ) {
			$list = array();
			foreach ( $score['attributes'] as $label => $value ) {
				$list[] = esc_html( $label ) . ' ' . esc_html( number_format_i18n( $value, 2 ) );
			}
			$html .= '<tr><th scope="row">' . esc_html__( 'Attributes', 'mmlq-edge' ) . '</th><td>' . implode( ', ', $list ) . '</td></tr>';
		}
		$html .= '</tbody></table>';
		$url   = mmlq_edge_rescore_url( $post->ID );
		if ( '' !== $url ) {
			$html .= '<p><a class="button mmlq-edge-rescore" href="' . esc_url( $url ) . '">' . esc_html__( 'Rescore', 'mmlq-edge' ) . '</a></p>';
		}
	}
	$fields['mmlq_edge'] = array(
		'label'         => esc_html__( 'Aesthetic score', 'mmlq-edge' ), // Printed as it is by core.
		'input'         => 'html',
		'html'          => $html,
		'show_in_edit'  => true,
		'show_in_modal' => true,
	);
	return $fields;
}
