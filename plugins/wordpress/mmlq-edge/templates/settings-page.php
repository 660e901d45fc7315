<?php
/**
 * The settings page (Settings → MMLQ Edge). Output only: the state it shows was read, and any state
 * change done, before it renders (mmlq_edge_settings_page_load()).
 *
 * @package MMLQ_Edge
 *
 * @var array{settings: array, name: string, counts: array<string, int>, reveal_secret: bool} $mmlq_edge_view
 */

defined( 'ABSPATH' ) || exit;
?>
<div class="wrap">
	<h1><?php echo esc_html__( 'MMLQ Edge', 'mmlq-edge' ); ?></h1>
	<p><?php echo esc_html__( 'Each new image is sent, signed, to your MMLQ Edge wp-webhook function, which scores it and writes the score, percentile and tier back to the image.', 'mmlq-edge' ); ?></p>
	<?php // No settings_errors() here: options-head.php already shows them on pages under Settings. ?>
	<form method="post" action="options.php">
		<?php settings_fields( 'mmlq_edge' ); ?>
		<input type="hidden" name="<?php echo esc_attr( $mmlq_edge_view['name'] ); ?>[_form]" value="1" />
		<table class="form-table" role="presentation">
			<tr>
				<th scope="row"><label for="mmlq-edge-endpoint"><?php echo esc_html__( 'Endpoint', 'mmlq-edge' ); ?></label></th>
				<td>
					<input type="url" class="regular-text code" id="mmlq-edge-endpoint" name="<?php echo esc_attr( $mmlq_edge_view['name'] ); ?>[endpoint]" value="<?php echo esc_attr( $mmlq_edge_view['settings']['endpoint'] ); ?>" placeholder="https://abc123.execute-api.eu-west-1.amazonaws.com/v1/wordpress/webhook" />
					<p class="description"><?php echo esc_html__( 'The URL of the wp-webhook function (http or https). Nothing else is ever contacted.', 'mmlq-edge' ); ?></p>
				</td>
			</tr>
			<tr>
				<th scope="row"><?php echo esc_html__( 'Sending', 'mmlq-edge' ); ?></th>
				<td><label><input type="checkbox" name="<?php echo esc_attr( $mmlq_edge_view['name'] ); ?>[enabled]" value="1" <?php checked( $mmlq_edge_view['settings']['enabled'] ); ?> /> <?php echo esc_html__( 'Send new images for scoring', 'mmlq-edge' ); ?></label></td>
			</tr>
			<tr>
				<th scope="row"><?php echo esc_html__( 'Comments', 'mmlq-edge' ); ?></th>
				<td><label><input type="checkbox" name="<?php echo esc_attr( $mmlq_edge_view['name'] ); ?>[include_comments]" value="1" <?php checked( $mmlq_edge_view['settings']['include_comments'] ); ?> /> <?php echo esc_html__( 'Include up to 10 approved comments on the image as context', 'mmlq-edge' ); ?></label></td>
			</tr>
			<tr>
				<th scope="row"><label for="mmlq-edge-crop-aspects"><?php echo esc_html__( 'Crop aspects', 'mmlq-edge' ); ?></label></th>
				<td>
					<input type="text" class="regular-text" id="mmlq-edge-crop-aspects" name="<?php echo esc_attr( $mmlq_edge_view['name'] ); ?>[crop_aspects]" value="<?php echo esc_attr( $mmlq_edge_view['settings']['crop_aspects'] ); ?>" />
					<p class="description"><?php echo esc_html__( 'Up to 4 ratios W:H, separated by commas (e.g. 16:9, 1:1): the best crop of each is stored with the score. Empty: no crops.', 'mmlq-edge' ); ?></p>
				</td>
			</tr>
			<tr>
				<th scope="row"><label for="mmlq-edge-attempts"><?php echo esc_html__( 'Attempts', 'mmlq-edge' ); ?></label></th>
				<td>
					<input type="number" min="1" max="20" class="small-text" id="mmlq-edge-attempts" name="<?php echo esc_attr( $mmlq_edge_view['name'] ); ?>[max_attempts]" value="<?php echo esc_attr( (string) $mmlq_edge_view['settings']['max_attempts'] ); ?>" />
					<p class="description"><?php echo esc_html__( 'Deliveries that meet a busy or failing endpoint are retried after 1, 2, 4, … minutes (at most 6 hours apart) up to this many attempts.', 'mmlq-edge' ); ?></p>
				</td>
			</tr>
			<tr>
				<th scope="row"><label for="mmlq-edge-timeout"><?php echo esc_html__( 'Timeout (seconds)', 'mmlq-edge' ); ?></label></th>
				<td><input type="number" min="1" max="60" class="small-text" id="mmlq-edge-timeout" name="<?php echo esc_attr( $mmlq_edge_view['name'] ); ?>[timeout]" value="<?php echo esc_attr( (string) $mmlq_edge_view['settings']['timeout'] ); ?>" /></td>
			</tr>
		</table>
		<?php submit_button(); ?>
	</form>

	<h2><?php echo esc_html__( 'Webhook secret', 'mmlq-edge' ); ?></h2>
	<?php if ( $mmlq_edge_view['reveal_secret'] ) : ?>
		<p><?php echo esc_html__( 'Store this secret with your MMLQ Edge deployment now; it is shown only once.', 'mmlq-edge' ); ?></p>
		<p><input type="text" class="large-text code" readonly="readonly" onfocus="this.select()" value="<?php echo esc_attr( $mmlq_edge_view['settings']['secret'] ); ?>" /></p>
	<?php elseif ( '' !== $mmlq_edge_view['settings']['secret'] ) : ?>
		<p>
		<?php
		/* translators: %s: the secret's last four characters. */
		echo esc_html( sprintf( __( 'A secret is set (ending in …%s). It is not shown again; regenerate it to get a new one.', 'mmlq-edge' ), substr( $mmlq_edge_view['settings']['secret'], -4 ) ) );
		?>
		</p>
	<?php else : ?>
		<p><?php echo esc_html__( 'No secret is set: nothing can be sent until you generate one.', 'mmlq-edge' ); ?></p>
	<?php endif; ?>
	<?php mmlq_edge_action_button( 'mmlq_edge_regenerate', __( 'Regenerate secret', 'mmlq-edge' ), __( 'The deployment will reject deliveries until it has the new secret. Continue?', 'mmlq-edge' ) ); ?>

	<h2><?php echo esc_html__( 'Tools', 'mmlq-edge' ); ?></h2>
	<p>
		<?php mmlq_edge_action_button( 'mmlq_edge_ping', __( 'Send a test ping', 'mmlq-edge' ) ); ?>
		<?php mmlq_edge_action_button( 'mmlq_edge_backfill', __( 'Score all unscored images', 'mmlq-edge' ) ); ?>
	</p>
	<p class="mmlq-edge-progress"><?php echo esc_html( mmlq_edge_progress_line( $mmlq_edge_view['counts'] ) ); ?></p>
</div>
