<?php
/**
 * wp-admin for editors: Media → Aesthetic scores (the backfill with live progress, for anyone with
 * MMLQ_EDGE_BACKFILL_CAP), and the scripts: the progress poller (there and on Settings → MMLQ Edge) and
 * the grid view's tier filter (wherever the media modal or grid loads).
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the page's and the scripts' hooks.
 */
function mmlq_edge_register_library_page(): void {
	add_action( 'admin_menu', 'mmlq_edge_library_menu' );
	add_action( 'admin_enqueue_scripts', 'mmlq_edge_enqueue_progress' );
	add_action( 'wp_enqueue_media', 'mmlq_edge_enqueue_grid_filter' );
}

/**
 * Media → Aesthetic scores.
 */
function mmlq_edge_library_menu(): void {
	add_media_page(
		__( 'Aesthetic scores', 'mmlq-edge' ),
		__( 'Aesthetic scores', 'mmlq-edge' ),
		MMLQ_EDGE_BACKFILL_CAP,
		'mmlq-edge-library',
		'mmlq_edge_library_page'
	);
}

/**
 * The progress poller on the two pages that show the backfill.
 *
 * @param string $hook_suffix The page's hook.
 */
function mmlq_edge_enqueue_progress( $hook_suffix ): void {
	if ( ! in_array( $hook_suffix, array( 'media_page_mmlq-edge-library', 'settings_page_mmlq-edge' ), true ) || ! current_user_can( MMLQ_EDGE_BACKFILL_CAP ) ) {
		return;
	}
	wp_enqueue_script( 'mmlq-edge-backfill', plugins_url( 'assets/js/backfill.js', MMLQ_EDGE_FILE ), array( 'wp-api-fetch', 'wp-i18n' ), MMLQ_EDGE_VERSION, true );
	wp_set_script_translations( 'mmlq-edge-backfill', 'mmlq-edge' );
}

/**
 * The grid view's (and the media modal's) tier filter.
 */
function mmlq_edge_enqueue_grid_filter(): void {
	if ( ! current_user_can( 'upload_files' ) ) {
		return;
	}
	wp_enqueue_script( 'mmlq-edge-grid-filter', plugins_url( 'assets/js/grid-filter.js', MMLQ_EDGE_FILE ), array( 'media-views' ), MMLQ_EDGE_VERSION, true );
	$tiers = array();
	foreach ( mmlq_edge_tiers() as $slug => $name ) {
		$tiers[] = array(
			'slug' => $slug,
			'name' => $name,
		);
	}
	wp_localize_script(
		'mmlq-edge-grid-filter',
		'mmlqEdgeGrid',
		array(
			'tiers' => $tiers,
			'all'   => __( 'All aesthetic tiers', 'mmlq-edge' ),
			'label' => __( 'Filter by aesthetic tier', 'mmlq-edge' ),
		)
	);
}

/**
 * The page: what the library holds, the backfill button (a plain form; the script turns it into a REST
 * call and polls the progress).
 */
function mmlq_edge_library_page(): void {
	if ( ! current_user_can( MMLQ_EDGE_BACKFILL_CAP ) ) {
		return;
	}
	$status = mmlq_edge_backfill_status();
	?>
	<div class="wrap">
		<h1><?php echo esc_html__( 'Aesthetic scores', 'mmlq-edge' ); ?></h1>
		<p><?php echo esc_html__( 'Images are scored when they are uploaded. Images that were in the library before, or whose scoring failed, can be sent for scoring here; each is scored in the background and its score appears in the media library\'s Aesthetic column.', 'mmlq-edge' ); ?></p>
		<?php
		$reason = mmlq_edge_not_ready_reason();
		if ( null !== $reason ) {
			echo '<div class="notice notice-warning inline"><p>' . esc_html( $reason ) . '</p></div>';
		}
		?>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="mmlq-edge-backfill-form">
			<input type="hidden" name="action" value="mmlq_edge_backfill" />
			<?php wp_nonce_field( 'mmlq_edge_backfill' ); ?>
			<?php submit_button( __( 'Score all unscored images', 'mmlq-edge' ), 'primary', 'submit', false, array( 'id' => 'mmlq-edge-backfill' ) ); ?>
		</form>
		<?php mmlq_edge_older_models_section(); ?>
		<p>
			<progress id="mmlq-edge-backfill-bar" max="<?php echo esc_attr( (string) max( 1, $status['total'] ) ); ?>" value="<?php echo esc_attr( (string) $status['queued'] ); ?>"></progress>
			<span class="mmlq-edge-state" data-state="<?php echo esc_attr( $status['state'] ); ?>"></span>
		</p>
		<p class="mmlq-edge-progress" aria-live="polite"><?php echo esc_html( $status['message'] ); ?></p>
	</div>
	<?php
}

/**
 * When the stored scores come from more than one model version (the scorer's model changed): which, how
 * many images each scored, and a button that rescores the images an older version scored, so that the
 * library tiers rank scores on one scale again.
 */
function mmlq_edge_older_models_section(): void {
	$models = mmlq_edge_scored_models();
	if ( count( $models ) < 2 ) {
		return;
	}
	$newest = mmlq_edge_newest_model();
	$older  = mmlq_edge_older_model_count( $models, $newest );
	$list   = array();
	foreach ( $models as $model => $n ) {
		$list[] = sprintf(
			/* translators: 1: model version, 2: number of images. */
			_n( '%1$s: %2$s image', '%1$s: %2$s images', $n, 'mmlq-edge' ),
			$model,
			number_format_i18n( $n )
		) . ( $model === $newest ? ' ' . __( '(the newest score\'s)', 'mmlq-edge' ) : '' );
	}
	?>
	<div class="notice notice-warning inline mmlq-edge-older-models">
		<?php
		$text = sprintf(
			/* translators: 1: number of model versions, 2: the versions with their image counts. */
			__( 'Scores of %1$s model versions are ranked together here, though they are not on one scale: %2$s. Rescore the images an older model scored to rank the library on one scale.', 'mmlq-edge' ),
			number_format_i18n( count( $models ) ),
			implode( '; ', $list )
		);
		?>
		<p><?php echo esc_html( $text ); ?></p>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" class="mmlq-edge-backfill-form">
			<input type="hidden" name="action" value="mmlq_edge_backfill" />
			<input type="hidden" name="mode" value="older" />
			<?php wp_nonce_field( 'mmlq_edge_backfill' ); ?>
			<?php
			submit_button(
				sprintf(
					/* translators: %s: number of images. */
					_n( 'Rescore the %s image an older model scored', 'Rescore the %s images an older model scored', $older, 'mmlq-edge' ),
					number_format_i18n( $older )
				),
				'secondary',
				'submit',
				false,
				array( 'id' => 'mmlq-edge-rescore-older' )
			);
			?>
		</form>
	</div>
	<?php
}
