<?php
/**
 * The `mmlq_edge_settings` option: defaults, reading, sanitising.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/**
 * Adds the settings' hooks: the registered option, and rescheduling once sending becomes possible.
 */
function mmlq_edge_register_settings(): void {
	add_action( 'init', 'mmlq_edge_register_setting' );
	add_action( 'update_option_mmlq_edge_settings', 'mmlq_edge_settings_changed', 10, 2 );
}

/**
 * Defaults of every setting.
 *
 * @return array{endpoint: string, secret: string, enabled: bool, max_attempts: int, timeout: int, include_comments: bool, crop_aspects: string}
 */
function mmlq_edge_default_settings(): array {
	return array(
		'endpoint'         => '',
		'secret'           => '',
		'enabled'          => true,
		'max_attempts'     => 6,
		'timeout'          => 15,
		'include_comments' => true,
		'crop_aspects'     => '16:9',
	);
}

/**
 * The settings, typed, with defaults for anything missing.
 *
 * @return array{endpoint: string, secret: string, enabled: bool, max_attempts: int, timeout: int, include_comments: bool, crop_aspects: string}
 */
function mmlq_edge_settings(): array {
	$stored = get_option( 'mmlq_edge_settings', array() );
	$s      = wp_parse_args( is_array( $stored ) ? $stored : array(), mmlq_edge_default_settings() );
	return array(
		'endpoint'         => is_string( $s['endpoint'] ) ? trim( $s['endpoint'] ) : '',
		'secret'           => is_string( $s['secret'] ) ? $s['secret'] : '',
		'enabled'          => (bool) rest_sanitize_boolean( $s['enabled'] ),
		'max_attempts'     => max( 1, min( 20, (int) $s['max_attempts'] ) ),
		'timeout'          => max( 1, min( 60, (int) $s['timeout'] ) ),
		'include_comments' => (bool) rest_sanitize_boolean( $s['include_comments'] ),
		'crop_aspects'     => implode( ',', mmlq_edge_parse_aspects( is_string( $s['crop_aspects'] ) ? $s['crop_aspects'] : '' ) ?? array() ),
	);
}

/**
 * The most crop aspects one image may ask for (the scorer's LIMITS.cropAspects).
 */
const MMLQ_EDGE_MAX_CROP_ASPECTS = 4;

/**
 * Parses crop aspects, e.g. "16:9, 1:1": each W:H of positive integers up to 10000, repeats dropped, at
 * most MMLQ_EDGE_MAX_CROP_ASPECTS. An empty text is no crops.
 *
 * @param string $text Comma-separated aspects.
 * @return string[]|null The aspects, normalised ("16:9"), or null when the text is not valid.
 */
function mmlq_edge_parse_aspects( string $text ): ?array {
	$out = array();
	foreach ( explode( ',', $text ) as $part ) {
		$part = trim( $part );
		if ( '' === $part ) {
			continue;
		}
		if ( ! preg_match( '/^(\d{1,5})\s*:\s*(\d{1,5})$/', $part, $m ) ) {
			return null;
		}
		$w = (int) $m[1];
		$h = (int) $m[2];
		if ( $w < 1 || $h < 1 || $w > 10000 || $h > 10000 ) {
			return null;
		}
		$out[ "$w:$h" ] = true;
	}
	return count( $out ) > MMLQ_EDGE_MAX_CROP_ASPECTS ? null : array_keys( $out );
}

/**
 * A new webhook secret: 32 random bytes as hex.
 */
function mmlq_edge_new_secret(): string {
	return bin2hex( random_bytes( 32 ) );
}

/**
 * Whether a URL may be used as the endpoint: http or https with a host. Loopback and private hosts are
 * allowed on purpose (the function may run locally in development); other schemes never are.
 *
 * @param string $url The URL.
 */
function mmlq_edge_valid_endpoint( string $url ): bool {
	$parts = wp_parse_url( $url );
	if ( ! is_array( $parts ) || empty( $parts['host'] ) || empty( $parts['scheme'] ) ) {
		return false;
	}
	return in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true );
}

/**
 * Whether deliveries can be sent now, and if not, why.
 *
 * @return string|null Null when ready, else the reason.
 */
function mmlq_edge_not_ready_reason(): ?string {
	$s = mmlq_edge_settings();
	if ( ! $s['enabled'] ) {
		return __( 'Sending is disabled in Settings → MMLQ Edge.', 'mmlq-edge' );
	}
	if ( '' === $s['endpoint'] ) {
		return __( 'No endpoint is configured in Settings → MMLQ Edge.', 'mmlq-edge' );
	}
	if ( ! mmlq_edge_valid_endpoint( $s['endpoint'] ) ) {
		return __( 'The endpoint is not an http(s) URL.', 'mmlq-edge' );
	}
	if ( '' === $s['secret'] ) {
		return __( 'No webhook secret: regenerate it in Settings → MMLQ Edge.', 'mmlq-edge' );
	}
	return null;
}

/**
 * Sanitises the option, whether it comes from the settings form (which marks itself with `_form`, so
 * that unticked boxes mean false) or from code (where missing keys keep their current values).
 *
 * @param mixed $input The submitted value.
 * @return array The value to store.
 */
function mmlq_edge_sanitize_settings( $input ): array {
	$out       = mmlq_edge_settings();
	$in        = is_array( $input ) ? $input : array();
	$from_form = ! empty( $in['_form'] );

	if ( array_key_exists( 'endpoint', $in ) ) {
		$url = is_string( $in['endpoint'] ) ? trim( $in['endpoint'] ) : null;
		if ( '' === $url ) {
			$out['endpoint'] = '';
		} elseif ( null !== $url && mmlq_edge_valid_endpoint( $url ) ) {
			$out['endpoint'] = esc_url_raw( $url, array( 'http', 'https' ) );
		} elseif ( function_exists( 'add_settings_error' ) ) {
			add_settings_error(
				'mmlq_edge_settings',
				'mmlq_edge_endpoint',
				__( 'The endpoint must be an http:// or https:// URL; the previous one was kept.', 'mmlq-edge' )
			);
		}
	}
	foreach ( array( 'enabled', 'include_comments' ) as $key ) {
		if ( $from_form ) {
			$out[ $key ] = ! empty( $in[ $key ] );
		} elseif ( array_key_exists( $key, $in ) ) {
			$out[ $key ] = (bool) rest_sanitize_boolean( $in[ $key ] );
		}
	}
	if ( array_key_exists( 'max_attempts', $in ) ) {
		$out['max_attempts'] = max( 1, min( 20, absint( $in['max_attempts'] ) ) );
	}
	if ( array_key_exists( 'timeout', $in ) ) {
		$out['timeout'] = max( 1, min( 60, absint( $in['timeout'] ) ) );
	}
	if ( array_key_exists( 'crop_aspects', $in ) ) {
		$aspects = is_string( $in['crop_aspects'] ) ? mmlq_edge_parse_aspects( $in['crop_aspects'] ) : null;
		if ( null !== $aspects ) {
			$out['crop_aspects'] = implode( ',', $aspects );
		} elseif ( function_exists( 'add_settings_error' ) ) {
			add_settings_error(
				'mmlq_edge_settings',
				'mmlq_edge_crop_aspects',
				__( 'Crop aspects must be up to 4 ratios W:H separated by commas (e.g. 16:9, 1:1); the previous ones were kept.', 'mmlq-edge' )
			);
		}
	}
	// The secret never comes from the form (it has its own "regenerate" button); code may set one.
	if ( ! $from_form && isset( $in['secret'] ) && is_string( $in['secret'] ) && preg_match( '/^[\x21-\x7e]{32,256}$/', $in['secret'] ) ) {
		$out['secret'] = $in['secret'];
	}
	return $out;
}

/**
 * Registers the option with its sanitiser (also used by options.php for the settings form).
 */
function mmlq_edge_register_setting(): void {
	register_setting(
		'mmlq_edge',
		'mmlq_edge_settings',
		array(
			'type'              => 'array',
			'sanitize_callback' => 'mmlq_edge_sanitize_settings',
			'default'           => mmlq_edge_default_settings(),
			'show_in_rest'      => false,
		)
	);
}

/**
 * Once deliveries can be sent (enabled, endpoint set), anything that waited gets its event back.
 *
 * @param mixed $old_value Previous value.
 * @param mixed $value     New value.
 */
function mmlq_edge_settings_changed( $old_value, $value ): void {
	if ( null === mmlq_edge_not_ready_reason() ) {
		mmlq_edge_reschedule_pending();
	}
}
