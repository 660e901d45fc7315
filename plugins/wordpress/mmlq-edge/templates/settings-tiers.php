<?php
/**
 * The settings page's "Tiers" section (its own form and option, `mmlq_edge_tiers`; see
 * includes/library-tiers.php). Output only.
 *
 * @package MMLQ_Edge
 *
 * @var array{tiers: array{basis: string, top: int, good: int, average: int, hero_min: string}} $mmlq_edge_view
 */

defined( 'ABSPATH' ) || exit;

$mmlq_edge_tiers = $mmlq_edge_view['tiers'];
?>
<h2 id="mmlq-edge-tiers"><?php echo esc_html__( 'Tiers', 'mmlq-edge' ); ?></h2>
<p><?php echo esc_html__( 'Each scored image has two percentiles. The model\'s percentile compares it with the model\'s own reference set, which includes deliberately damaged pictures: nearly every clean photo lands "good" or "top" there, so "top" only means "not damaged". The library percentile compares it with the other scored images on this site: 90 means it scores at least as well as 90 % of them.', 'mmlq-edge' ); ?></p>
<p><?php echo esc_html__( 'On the library basis (the default), "top" is the best share of this site\'s scored images that you set below, "good" the next share, and so on; the tiers are recomputed in the background as new scores arrive, so a strong newcomer can move others down a tier. On the model basis the tier is the one the model gave, by the thresholds of your deployment. The tier filter in the media library, its tier column and the tier terms follow the basis chosen here; both percentiles are always shown.', 'mmlq-edge' ); ?></p>
<form method="post" action="options.php" class="mmlq-edge-tier-settings">
	<?php settings_fields( 'mmlq_edge_tiers' ); ?>
	<table class="form-table" role="presentation">
		<tr>
			<th scope="row"><?php echo esc_html__( 'Tier basis', 'mmlq-edge' ); ?></th>
			<td>
				<fieldset>
					<legend class="screen-reader-text"><?php echo esc_html__( 'Tier basis', 'mmlq-edge' ); ?></legend>
					<label><input type="radio" name="mmlq_edge_tiers[basis]" value="library" <?php checked( 'library', $mmlq_edge_tiers['basis'] ); ?> /> <?php echo esc_html__( 'This library: the best images of this site', 'mmlq-edge' ); ?></label><br />
					<label><input type="radio" name="mmlq_edge_tiers[basis]" value="model" <?php checked( 'model', $mmlq_edge_tiers['basis'] ); ?> /> <?php echo esc_html__( 'The model: its calibrated percentile', 'mmlq-edge' ); ?></label>
				</fieldset>
			</td>
		</tr>
		<?php
		$mmlq_edge_shares = array(
			/* translators: the tier named "Top". */
			'top'     => __( '"Top" is the best', 'mmlq-edge' ),
			/* translators: the tier named "Good". */
			'good'    => __( '"Good" and better are the best', 'mmlq-edge' ),
			/* translators: the tier named "Average". */
			'average' => __( '"Average" and better are the best', 'mmlq-edge' ),
		);
		foreach ( $mmlq_edge_shares as $mmlq_edge_key => $mmlq_edge_label ) :
			?>
		<tr>
			<th scope="row"><label for="mmlq-edge-tier-<?php echo esc_attr( $mmlq_edge_key ); ?>"><?php echo esc_html( $mmlq_edge_label ); ?></label></th>
			<td>
				<input type="number" min="1" max="100" step="1" class="small-text" id="mmlq-edge-tier-<?php echo esc_attr( $mmlq_edge_key ); ?>" name="mmlq_edge_tiers[<?php echo esc_attr( $mmlq_edge_key ); ?>]" value="<?php echo esc_attr( (string) $mmlq_edge_tiers[ $mmlq_edge_key ] ); ?>" /> <?php echo esc_html__( '% of the scored images', 'mmlq-edge' ); ?>
			</td>
		</tr>
		<?php endforeach; ?>
		<tr>
			<th scope="row"><label for="mmlq-edge-hero-min"><?php echo esc_html__( 'Counts as "top"', 'mmlq-edge' ); ?></label></th>
			<td>
				<select id="mmlq-edge-hero-min" name="mmlq_edge_tiers[hero_min]">
					<?php foreach ( mmlq_edge_tiers() as $mmlq_edge_slug => $mmlq_edge_name ) : ?>
						<option value="<?php echo esc_attr( $mmlq_edge_slug ); ?>" <?php selected( $mmlq_edge_slug, $mmlq_edge_tiers['hero_min'] ); ?>><?php echo esc_html( $mmlq_edge_name ); ?></option>
					<?php endforeach; ?>
				</select>
				<p class="description"><?php echo esc_html__( 'The lowest tier whose images the best-image route (and the hero pick) reports as "top": a post whose best image is below it gets "top": false.', 'mmlq-edge' ); ?></p>
			</td>
		</tr>
	</table>
	<?php submit_button( __( 'Save tier settings', 'mmlq-edge' ), 'primary', 'submit', true, array( 'id' => 'mmlq-edge-save-tiers' ) ); ?>
</form>
