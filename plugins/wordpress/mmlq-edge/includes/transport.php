<?php
/**
 * The transport: a signed POST to the endpoint, and the test ping.
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** Bytes of an answer read at most (answers are small JSON). */
const MMLQ_EDGE_MAX_RESPONSE_BYTES = 65536;

/**
 * POSTs a signed payload to the endpoint.
 *
 * @param array $payload Body (see mmlq_edge_payload()).
 * @return array{code: int, error: string, retry_after: int, body: string} code 0 = transport error.
 */
function mmlq_edge_post( array $payload ): array {
	$settings = mmlq_edge_settings();
	$reason   = mmlq_edge_not_ready_reason();
	if ( null !== $reason ) {
		return array(
			'code'        => 0,
			'error'       => 'NOT_CONFIGURED: ' . $reason,
			'retry_after' => 0,
			'body'        => '',
		);
	}
	$body      = (string) wp_json_encode( $payload, JSON_UNESCAPED_SLASHES );
	$timestamp = (string) time();
	$delivery  = wp_generate_uuid4();
	/**
	 * Filters whether the endpoint may be on a loopback or private address, or on a port other than 80,
	 * 443 and 8080. Default: yes on a single site, whose administrators run the server anyway and may run
	 * the function locally in development; no on multisite, where a site's administrator must not reach
	 * the network's internal services. When false, the URL must pass wp_http_validate_url().
	 *
	 * @param bool   $allow    Whether to allow it.
	 * @param string $endpoint The endpoint URL (its scheme is http or https).
	 */
	$allow_private = (bool) apply_filters( 'mmlq_edge_allow_private_endpoint', ! is_multisite(), $settings['endpoint'] );
	// The scheme was checked above; redirects are never followed.
	$response = wp_remote_post(
		$settings['endpoint'],
		array(
			'timeout'             => $settings['timeout'],
			'blocking'            => true,
			'redirection'         => 0,
			'reject_unsafe_urls'  => ! $allow_private,
			'limit_response_size' => MMLQ_EDGE_MAX_RESPONSE_BYTES,
			'user-agent'          => 'MMLQ-Edge-WordPress/' . MMLQ_EDGE_VERSION . '; ' . home_url( '/' ),
			'headers'             => array(
				'Content-Type'     => 'application/json',
				'X-MMLQ-Delivery'  => $delivery,
				'X-MMLQ-Timestamp' => $timestamp,
				// v2 signs the delivery id too, so a captured request cannot be resent under a new id.
				'X-MMLQ-Signature' => 'v2=' . hash_hmac( 'sha256', $timestamp . '.' . $delivery . '.' . $body, $settings['secret'] ),
			),
			'body'                => $body,
		)
	);
	if ( is_wp_error( $response ) ) {
		return array(
			'code'        => 0,
			'error'       => 'HTTP_TRANSPORT: ' . $response->get_error_message(),
			'retry_after' => 0,
			'body'        => '',
		);
	}
	$code  = (int) wp_remote_retrieve_response_code( $response );
	$text  = (string) wp_remote_retrieve_body( $response );
	$error = '';
	if ( $code < 200 || $code >= 300 ) {
		$error = 'HTTP ' . $code;
		$json  = json_decode( $text, true );
		if ( is_array( $json ) && isset( $json['error'] ) && is_array( $json['error'] ) ) {
			$code_name = isset( $json['error']['code'] ) && is_scalar( $json['error']['code'] ) ? (string) $json['error']['code'] : '';
			$message   = isset( $json['error']['message'] ) && is_scalar( $json['error']['message'] ) ? (string) $json['error']['message'] : '';
			$error    .= ( '' !== $code_name ? ' ' . $code_name : '' ) . ( '' !== $message ? ': ' . $message : '' );
		} elseif ( $code >= 300 && $code < 400 ) {
			$error .= ': ' . __( 'redirects are not followed; check the endpoint URL', 'mmlq-edge' );
		}
		$error = mmlq_edge_clip( $error, 500 );
	}
	$retry_after = wp_remote_retrieve_header( $response, 'retry-after' );
	return array(
		'code'        => $code,
		'error'       => $error,
		'retry_after' => is_numeric( $retry_after ) ? max( 0, (int) $retry_after ) : 0,
		'body'        => $text,
	);
}

/**
 * What the endpoint last answered, in a word: the `status` of a 2xx JSON answer (`scored`, `duplicate`,
 * `rejected`, `gone`), else `HTTP <code>`, or `transport error`.
 *
 * @param array $result From mmlq_edge_post().
 */
function mmlq_edge_response_summary( array $result ): string {
	if ( 0 === $result['code'] ) {
		return 'transport error';
	}
	$json = json_decode( (string) $result['body'], true );
	if ( $result['code'] >= 200 && $result['code'] < 300 && is_array( $json ) && isset( $json['status'] ) && is_string( $json['status'] ) ) {
		return sanitize_key( $json['status'] );
	}
	return 'HTTP ' . $result['code'];
}

/**
 * Sends a `ping` now.
 *
 * @return array{code: int, error: string, body: string}
 */
function mmlq_edge_ping(): array {
	$result = mmlq_edge_post( mmlq_edge_payload( 'ping' ) );
	return array(
		'code'  => $result['code'],
		'error' => $result['error'],
		'body'  => mmlq_edge_clip( $result['body'], 500 ),
	);
}
