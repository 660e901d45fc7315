<?php
/**
 * wp-admin: Settings → MMLQ Edge (endpoint, secret, test ping, backfill), the media library's
 * "Aesthetic" column with sorting, tier filter, Retry links and a bulk action, and the read-only score
 * on the attachment screen and in the media modal.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

add_action( 'admin_menu', 'mmlq_edge_admin_menu' );
add_action( 'admin_post_mmlq_edge_ping', 'mmlq_edge_handle_ping' );
add_action( 'admin_post_mmlq_edge_regenerate', 'mmlq_edge_handle_regenerate' );
add_action( 'admin_post_mmlq_edge_backfill', 'mmlq_edge_handle_backfill' );
add_action( 'admin_post_mmlq_edge_retry', 'mmlq_edge_handle_retry' );
add_action( 'admin_notices', 'mmlq_edge_admin_notices' );
add_filter( 'manage_media_columns', 'mmlq_edge_media_columns' );
add_action( 'manage_media_custom_column', 'mmlq_edge_media_column', 10, 2 );
add_filter( 'manage_upload_sortable_columns', 'mmlq_edge_sortable_columns' );
add_action( 'restrict_manage_posts', 'mmlq_edge_tier_dropdown', 10, 2 );
add_action( 'pre_get_posts', 'mmlq_edge_admin_query' );
add_filter( 'bulk_actions-upload', 'mmlq_edge_bulk_actions' );
add_filter( 'handle_bulk_actions-upload', 'mmlq_edge_handle_bulk', 10, 3 );
add_filter( 'attachment_fields_to_edit', 'mmlq_edge_attachment_fields', 10, 2 );
add_filter( 'plugin_action_links_' . plugin_basename( MMLQ_EDGE_FILE ), 'mmlq_edge_action_links' );
add_action( 'admin_init', 'mmlq_edge_privacy_policy_content' );

/**
 * Suggested text for the site's privacy policy (Settings → Privacy → Policy Guide): image texts and
 * approved comments leave the site for the configured endpoint.
 */
function mmlq_edge_privacy_policy_content(): void {
	if ( ! function_exists( 'wp_add_privacy_policy_content' ) ) {
		return;
	}
	$text = '<p>' . esc_html__( 'When an image is uploaded to the media library, or its texts change, this site sends the image\'s address, size, type and checksum, its title, caption, alt text and description and, if enabled, up to 10 approved comments on the image, to the MMLQ Edge deployment configured by the site\'s administrators, which scores the image and stores the score with it. Commenters\' names and email addresses are not sent.', 'mmlq-edge' ) . '</p>';
	wp_add_privacy_policy_content( __( 'MMLQ Edge', 'mmlq-edge' ), wp_kses_post( $text ) );
}

/**
 * Settings → MMLQ Edge.
 */
function mmlq_edge_admin_menu(): void {
	add_options_page(
		__( 'MMLQ Edge', 'mmlq-edge' ),
		__( 'MMLQ Edge', 'mmlq-edge' ),
		'manage_options',
		'mmlq-edge',
		'mmlq_edge_settings_page'
	);
}

/**
 * A "Settings" link on the plugins screen.
 *
 * @param array $links Links.
 */
function mmlq_edge_action_links( array $links ): array {
	array_unshift( $links, '<a href="' . esc_url( admin_url( 'options-general.php?page=mmlq-edge' ) ) . '">' . esc_html__( 'Settings', 'mmlq-edge' ) . '</a>' );
	return $links;
}

/**
 * The settings page URL, with extra query args.
 *
 * @param array $args Query args.
 */
function mmlq_edge_settings_url( array $args = array() ): string {
	return add_query_arg( $args, admin_url( 'options-general.php?page=mmlq-edge' ) );
}

/**
 * A POST button to admin-post.php with a nonce.
 *
 * @param string $action  Action (also the nonce action).
 * @param string $label   Button label.
 * @param string $confirm Confirmation text, if any.
 */
function mmlq_edge_action_button( string $action, string $label, string $confirm = '' ): void {
	echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" style="display:inline-block;margin-right:8px">';
	echo '<input type="hidden" name="action" value="' . esc_attr( $action ) . '" />';
	wp_nonce_field( $action );
	$attrs = '' !== $confirm ? array( 'onclick' => 'return confirm(' . wp_json_encode( $confirm ) . ');' ) : array();
	submit_button( $label, 'secondary', 'submit', false, $attrs );
	echo '</form>';
}

/**
 * The settings page.
 */
function mmlq_edge_settings_page(): void {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	$s      = mmlq_edge_settings();
	$name   = 'mmlq_edge_settings';
	$counts = mmlq_edge_status_counts();
	?>
	<div class="wrap">
		<h1><?php echo esc_html__( 'MMLQ Edge', 'mmlq-edge' ); ?></h1>
		<p><?php echo esc_html__( 'Each new image is sent, signed, to your MMLQ Edge wp-webhook function, which scores it and writes the score, percentile and tier back to the image.', 'mmlq-edge' ); ?></p>
		<?php // No settings_errors() here: options-head.php already shows them on pages under Settings. ?>
		<form method="post" action="options.php">
			<?php settings_fields( 'mmlq_edge' ); ?>
			<input type="hidden" name="<?php echo esc_attr( $name ); ?>[_form]" value="1" />
			<table class="form-table" role="presentation">
				<tr>
					<th scope="row"><label for="mmlq-edge-endpoint"><?php echo esc_html__( 'Endpoint', 'mmlq-edge' ); ?></label></th>
					<td>
						<input type="url" class="regular-text code" id="mmlq-edge-endpoint" name="<?php echo esc_attr( $name ); ?>[endpoint]" value="<?php echo esc_attr( $s['endpoint'] ); ?>" placeholder="https://abc123.execute-api.eu-west-1.amazonaws.com/v1/wordpress/webhook" />
						<p class="description"><?php echo esc_html__( 'The URL of the wp-webhook function (http or https). Nothing else is ever contacted.', 'mmlq-edge' ); ?></p>
					</td>
				</tr>
				<tr>
					<th scope="row"><?php echo esc_html__( 'Sending', 'mmlq-edge' ); ?></th>
					<td><label><input type="checkbox" name="<?php echo esc_attr( $name ); ?>[enabled]" value="1" <?php checked( $s['enabled'] ); ?> /> <?php echo esc_html__( 'Send new images for scoring', 'mmlq-edge' ); ?></label></td>
				</tr>
				<tr>
					<th scope="row"><?php echo esc_html__( 'Comments', 'mmlq-edge' ); ?></th>
					<td><label><input type="checkbox" name="<?php echo esc_attr( $name ); ?>[include_comments]" value="1" <?php checked( $s['include_comments'] ); ?> /> <?php echo esc_html__( 'Include up to 10 approved comments on the image as context', 'mmlq-edge' ); ?></label></td>
				</tr>
				<tr>
					<th scope="row"><label for="mmlq-edge-attempts"><?php echo esc_html__( 'Attempts', 'mmlq-edge' ); ?></label></th>
					<td>
						<input type="number" min="1" max="20" class="small-text" id="mmlq-edge-attempts" name="<?php echo esc_attr( $name ); ?>[max_attempts]" value="<?php echo esc_attr( (string) $s['max_attempts'] ); ?>" />
						<p class="description"><?php echo esc_html__( 'Deliveries that meet a busy or failing endpoint are retried after 1, 2, 4, … minutes (at most 6 hours apart) up to this many attempts.', 'mmlq-edge' ); ?></p>
					</td>
				</tr>
				<tr>
					<th scope="row"><label for="mmlq-edge-timeout"><?php echo esc_html__( 'Timeout (seconds)', 'mmlq-edge' ); ?></label></th>
					<td><input type="number" min="1" max="60" class="small-text" id="mmlq-edge-timeout" name="<?php echo esc_attr( $name ); ?>[timeout]" value="<?php echo esc_attr( (string) $s['timeout'] ); ?>" /></td>
				</tr>
			</table>
			<?php submit_button(); ?>
		</form>

		<h2><?php echo esc_html__( 'Webhook secret', 'mmlq-edge' ); ?></h2>
		<?php if ( get_option( 'mmlq_edge_secret_unseen' ) ) : ?>
			<?php delete_option( 'mmlq_edge_secret_unseen' ); ?>
			<p><?php echo esc_html__( 'Store this secret with your MMLQ Edge deployment now; it is shown only once.', 'mmlq-edge' ); ?></p>
			<p><input type="text" class="large-text code" readonly="readonly" onfocus="this.select()" value="<?php echo esc_attr( $s['secret'] ); ?>" /></p>
		<?php elseif ( '' !== $s['secret'] ) : ?>
			<p>
			<?php
			/* translators: %s: the secret's last four characters. */
			echo esc_html( sprintf( __( 'A secret is set (ending in …%s). It is not shown again; regenerate it to get a new one.', 'mmlq-edge' ), substr( $s['secret'], -4 ) ) );
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
		<p class="mmlq-edge-progress"><?php echo esc_html( mmlq_edge_progress_line( $counts ) ); ?></p>
	</div>
	<?php
}

/**
 * One line on the backfill and the delivery queue.
 *
 * @param array<string, int> $counts Status counts.
 */
function mmlq_edge_progress_line( array $counts ): string {
	$state = get_option( 'mmlq_edge_backfill' );
	$parts = array();
	if ( is_array( $state ) && isset( $state['state'] ) ) {
		$parts[] = 'running' === $state['state']
			/* translators: 1: queued, 2: total. */
			? sprintf( __( 'Scoring all unscored images: %1$d of %2$d queued so far.', 'mmlq-edge' ), (int) $state['queued'], (int) $state['total'] )
			/* translators: 1: queued, 2: date. */
			: sprintf( __( 'Last "score all": %1$d images queued, finished %2$s.', 'mmlq-edge' ), (int) $state['queued'], wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), (int) $state['finished'] ) );
	}
	/* translators: 1: queued, 2: sent, 3: failed, 4: unscored. */
	$parts[] = sprintf( __( 'Now: %1$d queued, %2$d sent, %3$d failed; %4$d images have no score.', 'mmlq-edge' ), $counts['pending'], $counts['sent'], $counts['failed'], mmlq_edge_unscored_count() );
	return implode( ' ', $parts );
}

/**
 * Dies unless the nonce and capability check out.
 *
 * @param string $action Nonce action.
 * @param string $cap    Capability.
 * @param int    $id     Object for a meta capability.
 */
function mmlq_edge_guard( string $action, string $cap, int $id = 0 ): void {
	check_admin_referer( $action );
	$allowed = $id ? current_user_can( $cap, $id ) : current_user_can( $cap );
	if ( ! $allowed ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'mmlq-edge' ), 403 );
	}
}

/**
 * "Send a test ping".
 */
function mmlq_edge_handle_ping(): void {
	mmlq_edge_guard( 'mmlq_edge_ping', 'manage_options' );
	$result = mmlq_edge_ping();
	set_transient( 'mmlq_edge_ping_' . get_current_user_id(), $result, 5 * MINUTE_IN_SECONDS );
	wp_safe_redirect( mmlq_edge_settings_url( array( 'mmlq_edge_notice' => 'ping' ) ) );
	exit;
}

/**
 * "Regenerate secret".
 */
function mmlq_edge_handle_regenerate(): void {
	mmlq_edge_guard( 'mmlq_edge_regenerate', 'manage_options' );
	$s           = get_option( 'mmlq_edge_settings', array() );
	$s           = is_array( $s ) ? $s : array();
	$s['secret'] = mmlq_edge_new_secret();
	update_option( 'mmlq_edge_settings', $s, false );
	update_option( 'mmlq_edge_secret_unseen', 1, false );
	wp_safe_redirect( mmlq_edge_settings_url( array( 'mmlq_edge_notice' => 'secret' ) ) );
	exit;
}

/**
 * "Score all unscored images".
 */
function mmlq_edge_handle_backfill(): void {
	mmlq_edge_guard( 'mmlq_edge_backfill', 'manage_options' );
	mmlq_edge_start_backfill();
	wp_safe_redirect( mmlq_edge_settings_url( array( 'mmlq_edge_notice' => 'backfill' ) ) );
	exit;
}

/**
 * The Retry / Score link of one attachment.
 */
function mmlq_edge_handle_retry(): void {
	$id = isset( $_GET['attachment'] ) ? absint( wp_unslash( $_GET['attachment'] ) ) : 0; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- checked in the guard.
	mmlq_edge_guard( 'mmlq_edge_retry_' . $id, 'edit_post', $id );
	$queued   = mmlq_edge_queue( $id, mmlq_edge_event_for( $id ) ) ? 1 : 0;
	$referer  = wp_get_referer();
	$redirect = $referer ? $referer : admin_url( 'upload.php?mode=list' );
	wp_safe_redirect( add_query_arg( 'mmlq_edge_queued', $queued, remove_query_arg( 'mmlq_edge_queued', $redirect ) ) );
	exit;
}

/**
 * Notices: results of the actions above, and failed deliveries in the media library.
 */
function mmlq_edge_admin_notices(): void {
	$screen = get_current_screen();
	if ( ! $screen ) {
		return;
	}
	// phpcs:disable WordPress.Security.NonceVerification.Recommended -- display only.
	if ( 'settings_page_mmlq-edge' === $screen->id && isset( $_GET['mmlq_edge_notice'] ) ) {
		$notice = sanitize_key( wp_unslash( $_GET['mmlq_edge_notice'] ) );
		if ( 'ping' === $notice ) {
			$result = get_transient( 'mmlq_edge_ping_' . get_current_user_id() );
			delete_transient( 'mmlq_edge_ping_' . get_current_user_id() );
			if ( is_array( $result ) ) {
				$ok      = $result['code'] >= 200 && $result['code'] < 300;
				$json    = json_decode( (string) $result['body'], true );
				$answer  = is_array( $json ) && isset( $json['status'] ) && is_string( $json['status'] ) ? ' (' . $json['status'] . ')' : '';
				$message = $ok
					/* translators: 1: HTTP status, 2: the answer's status in parentheses, e.g. " (pong)". */
					? sprintf( __( 'Test ping: HTTP %1$d%2$s.', 'mmlq-edge' ), $result['code'], $answer )
					/* translators: %s: the error. */
					: sprintf( __( 'Test ping failed: %s', 'mmlq-edge' ), $result['error'] );
				printf( '<div class="notice notice-%s is-dismissible"><p>%s</p></div>', $ok ? 'success' : 'error', esc_html( $message ) );
			}
		} elseif ( 'backfill' === $notice ) {
			echo '<div class="notice notice-info is-dismissible"><p>' . esc_html__( 'Queuing every unscored image, 50 at a time, in the background.', 'mmlq-edge' ) . '</p></div>';
		} elseif ( 'secret' === $notice ) {
			echo '<div class="notice notice-warning is-dismissible"><p>' . esc_html__( 'A new secret was generated: give it to your deployment.', 'mmlq-edge' ) . '</p></div>';
		}
	}
	if ( 'upload' === $screen->id ) {
		if ( isset( $_GET['mmlq_edge_queued'] ) ) {
			$n = absint( wp_unslash( $_GET['mmlq_edge_queued'] ) );
			/* translators: %d: number of images. */
			echo '<div class="notice notice-success is-dismissible"><p>' . esc_html( sprintf( _n( '%d image queued for scoring.', '%d images queued for scoring.', $n, 'mmlq-edge' ), $n ) ) . '</p></div>';
		}
		$counts = mmlq_edge_status_counts();
		if ( $counts['failed'] > 0 && current_user_can( 'upload_files' ) ) {
			/* translators: %d: number of images. */
			echo '<div class="notice notice-warning"><p>' . esc_html( sprintf( _n( 'MMLQ Edge: %d image could not be sent for scoring; see the Aesthetic column.', 'MMLQ Edge: %d images could not be sent for scoring; see the Aesthetic column.', $counts['failed'], 'mmlq-edge' ), $counts['failed'] ) ) . '</p></div>';
		}
	}
	// phpcs:enable
}

/**
 * The "Aesthetic" column.
 *
 * @param array $columns Columns.
 */
function mmlq_edge_media_columns( array $columns ): array {
	// Escaped here: list tables print column headers as they are.
	$columns['mmlq_edge'] = esc_html__( 'Aesthetic', 'mmlq-edge' );
	return $columns;
}

/**
 * @param array $columns Sortable columns.
 */
function mmlq_edge_sortable_columns( array $columns ): array {
	$columns['mmlq_edge'] = array( 'mmlq_score', true );
	return $columns;
}

/**
 * The Retry / Score link.
 *
 * @param int    $id    Attachment ID.
 * @param string $label Text.
 */
function mmlq_edge_retry_link( int $id, string $label ): string {
	if ( ! current_user_can( 'edit_post', $id ) ) {
		return '';
	}
	$url = wp_nonce_url( admin_url( 'admin-post.php?action=mmlq_edge_retry&attachment=' . $id ), 'mmlq_edge_retry_' . $id );
	return ' <a class="mmlq-edge-retry" href="' . esc_url( $url ) . '">' . esc_html( $label ) . '</a>';
}

/**
 * What the column says about an attachment (HTML, escaped).
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_status_html( int $id ): string {
	if ( ! mmlq_edge_is_image( $id ) ) {
		return '—';
	}
	$score = mmlq_edge_score( $id );
	$state = mmlq_edge_state( $id );
	if ( null !== $score ) {
		$html = '<strong>' . esc_html( number_format_i18n( $score['score'], 2 ) ) . '</strong>';
		if ( null !== $score['tier'] ) {
			$html .= ' <span class="mmlq-edge-tier mmlq-edge-tier-' . esc_attr( $score['tier'] ) . '">' . esc_html( mmlq_edge_tier_name( $score['tier'] ) ) . '</span>';
		}
		if ( 'pending' === $state['status'] ) {
			$html .= '<br /><span class="description">' . esc_html__( 'rescore queued', 'mmlq-edge' ) . '</span>';
		}
		return $html;
	}
	$error = (string) get_post_meta( $id, 'mmlq_error', true );
	switch ( $state['status'] ) {
		case 'pending':
			$html = esc_html__( 'queued', 'mmlq-edge' );
			if ( '' !== $state['last_error'] ) {
				$html .= '<br /><span class="description">' . esc_html(
					$state['attempts'] > 0
						/* translators: 1: attempts so far, 2: maximum, 3: error. */
						? sprintf( __( 'attempt %1$d of %2$d failed: %3$s', 'mmlq-edge' ), $state['attempts'], mmlq_edge_settings()['max_attempts'], $state['last_error'] )
						: $state['last_error']
				) . '</span>';
			}
			$next = wp_next_scheduled( 'mmlq_edge_send', array( $id ) );
			if ( false !== $next && $next > time() ) {
				/* translators: %s: time. */
				$html .= '<br /><span class="description">' . esc_html( sprintf( __( 'next try %s', 'mmlq-edge' ), wp_date( get_option( 'time_format' ), $next ) ) ) . '</span>';
			}
			return $html;
		case 'failed':
			/* translators: %s: error. */
			return '<span class="mmlq-edge-failed" style="color:#b32d2e">' . esc_html( sprintf( __( 'failed: %s', 'mmlq-edge' ), $state['last_error'] ) ) . '</span>' . mmlq_edge_retry_link( $id, __( 'Retry', 'mmlq-edge' ) );
		case 'sent':
			if ( '' !== $error ) {
				/* translators: %s: error. */
				return '<span class="mmlq-edge-failed" style="color:#b32d2e">' . esc_html( sprintf( __( 'not scored: %s', 'mmlq-edge' ), $error ) ) . '</span>' . mmlq_edge_retry_link( $id, __( 'Retry', 'mmlq-edge' ) );
			}
			return esc_html__( 'sent, waiting for the score', 'mmlq-edge' );
		default:
			return esc_html__( 'not scored', 'mmlq-edge' ) . mmlq_edge_retry_link( $id, __( 'Score', 'mmlq-edge' ) );
	}
}

/**
 * @param string $column Column.
 * @param int    $id     Attachment ID.
 */
function mmlq_edge_media_column( $column, $id ): void {
	if ( 'mmlq_edge' === $column ) {
		echo mmlq_edge_status_html( (int) $id ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped when built.
	}
}

/**
 * The tier filter above the media list.
 *
 * @param string $post_type Post type.
 * @param string $which     top or bottom.
 */
function mmlq_edge_tier_dropdown( $post_type, $which = 'top' ): void {
	if ( 'attachment' !== $post_type || 'top' !== $which ) {
		return;
	}
	$current = isset( $_GET['mmlq_tier'] ) ? sanitize_key( wp_unslash( $_GET['mmlq_tier'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
	echo '<label for="mmlq-edge-tier-filter" class="screen-reader-text">' . esc_html__( 'Filter by aesthetic tier', 'mmlq-edge' ) . '</label>';
	echo '<select name="mmlq_tier" id="mmlq-edge-tier-filter">';
	echo '<option value="">' . esc_html__( 'All aesthetic tiers', 'mmlq-edge' ) . '</option>';
	foreach ( mmlq_edge_tiers() as $slug => $name ) {
		echo '<option value="' . esc_attr( $slug ) . '"' . selected( $current, $slug, false ) . '>' . esc_html( $name ) . '</option>';
	}
	echo '</select>';
}

/**
 * The media list's tier filter and score sorting.
 *
 * @param WP_Query $query Query.
 */
function mmlq_edge_admin_query( WP_Query $query ): void {
	global $pagenow;
	if ( ! is_admin() || ! $query->is_main_query() || 'upload.php' !== $pagenow ) {
		return;
	}
	// phpcs:disable WordPress.Security.NonceVerification.Recommended -- a list filter.
	$tier = isset( $_GET['mmlq_tier'] ) ? sanitize_key( wp_unslash( $_GET['mmlq_tier'] ) ) : '';
	// phpcs:enable
	if ( '' !== $tier && isset( mmlq_edge_tiers()[ $tier ] ) ) {
		$tax_query   = (array) $query->get( 'tax_query' );
		$tax_query[] = array(
			'taxonomy' => 'mmlq_tier',
			'field'    => 'slug',
			'terms'    => array( $tier ),
		);
		$query->set( 'tax_query', $tax_query );
	}
	if ( 'mmlq_score' === $query->get( 'orderby' ) ) {
		$query->set( 'meta_key', 'mmlq_score' ); // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key
		$query->set( 'orderby', 'meta_value_num' );
	}
}

/**
 * "Score with MMLQ Edge" in the bulk actions.
 *
 * @param array $actions Actions.
 */
function mmlq_edge_bulk_actions( array $actions ): array {
	// Escaped here: WordPress 6.1 prints bulk action labels as they are.
	$actions['mmlq_edge_score'] = esc_html__( 'Score with MMLQ Edge', 'mmlq-edge' );
	return $actions;
}

/**
 * Queues the selected images as rescore deliveries (upload.php checked the bulk nonce).
 *
 * @param string $redirect Redirect URL.
 * @param string $action   Action.
 * @param array  $ids      Attachment IDs.
 */
function mmlq_edge_handle_bulk( $redirect, $action, $ids ): string {
	if ( 'mmlq_edge_score' !== $action ) {
		return (string) $redirect;
	}
	$queued = 0;
	foreach ( (array) $ids as $id ) {
		$id = (int) $id;
		if ( current_user_can( 'edit_post', $id ) && mmlq_edge_queue( $id, 'attachment.rescore' ) ) {
			++$queued;
		}
	}
	return add_query_arg( 'mmlq_edge_queued', $queued, remove_query_arg( 'mmlq_edge_queued', (string) $redirect ) );
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
		$rows = array(
			__( 'Score', 'mmlq-edge' )      => number_format_i18n( $score['score'], 2 ) . ( null !== $score['std'] ? ' ± ' . number_format_i18n( $score['std'], 2 ) : '' ),
			__( 'Percentile', 'mmlq-edge' ) => null !== $score['percentile'] ? number_format_i18n( $score['percentile'], 1 ) : '—',
			__( 'Tier', 'mmlq-edge' )       => null !== $score['tier'] ? mmlq_edge_tier_name( $score['tier'] ) : '—',
			__( 'Model', 'mmlq-edge' )      => '' !== $score['model'] ? $score['model'] : '—',
			__( 'Scored at', 'mmlq-edge' )  => '' !== $score['scored_at'] ? $score['scored_at'] : '—',
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
