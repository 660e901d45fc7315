<?php
/**
 * Tiers relative to this library. The model's percentile compares an image with the model's reference
 * set, where nearly every clean photo is "good" or "top"; the library percentile compares it with this
 * site's scored images: the share of them it scores at least as well as (the best image is at 100, ties
 * share the better place). The library tier comes from the image's rank: "top" is the best N % of the
 * scored images (see mmlq_edge_library_tier()). The percentile is stored as `mmlq_library_percentile`
 * meta, recomputed from the stored scores in one WP-cron run after scores arrive (however many arrive
 * before it runs), writing only the values and tier terms that changed. The `mmlq_tier` term follows
 * the chosen basis: the library tier (the default) or the model's tier, which stays in the `mmlq_tier`
 * meta either way.
 *
 * Settings: the `mmlq_edge_tiers` option (apart from `mmlq_edge_settings`).
 *
 * @package MMLQ_Edge
 */

defined( 'ABSPATH' ) || exit;

/** The meta key of the library percentile. */
const MMLQ_EDGE_LIBRARY_META = 'mmlq_library_percentile';
/** Rows per UPDATE / INSERT statement of a recompute. */
const MMLQ_EDGE_LIBRARY_CHUNK = 500;

/**
 * Adds the library tiers' hooks.
 */
function mmlq_edge_register_library_tiers(): void {
	add_action( 'init', 'mmlq_edge_register_tier_setting' );
	add_action( 'init', 'mmlq_edge_register_library_meta' );
	add_action( 'added_post_meta', 'mmlq_edge_on_score_meta', 10, 3 );
	add_action( 'updated_post_meta', 'mmlq_edge_on_score_meta', 10, 3 );
	add_action( 'deleted_post_meta', 'mmlq_edge_on_score_meta', 10, 3 );
	add_action( 'delete_attachment', 'mmlq_edge_on_scored_deleted' );
	add_action( 'rest_after_insert_attachment', 'mmlq_edge_after_rest_score', 10, 2 );
	add_action( 'mmlq_edge_library_tiers', 'mmlq_edge_recompute_library_tiers' );
	add_action( 'update_option_mmlq_edge_tiers', 'mmlq_edge_schedule_library_tiers' );
	add_action( 'add_option_mmlq_edge_tiers', 'mmlq_edge_schedule_library_tiers' );
}

/**
 * Defaults: the library basis; "top" is the best 10 %, "good" the next 25 % (best 35 %), "average" down
 * to the best 75 %, the rest "low"; the best-image route counts "good" and better as "top".
 *
 * @return array{basis: string, top: int, good: int, average: int, hero_min: string}
 */
function mmlq_edge_default_tier_settings(): array {
	return array(
		'basis'    => 'library',
		'top'      => 10,
		'good'     => 35,
		'average'  => 75,
		'hero_min' => 'good',
	);
}

/**
 * The tier settings, typed, with defaults for anything missing or inconsistent.
 *
 * @return array{basis: string, top: int, good: int, average: int, hero_min: string}
 */
function mmlq_edge_tier_settings(): array {
	$stored = get_option( 'mmlq_edge_tiers', array() );
	$out    = mmlq_edge_clean_tier_settings( is_array( $stored ) ? $stored : array(), mmlq_edge_default_tier_settings() );
	return is_array( $out ) ? $out : mmlq_edge_default_tier_settings();
}

/**
 * Validates tier settings over a base: basis library|model, 1 ≤ top < good < average ≤ 100 (whole
 * per cent), hero_min a tier slug. Missing keys keep the base's value.
 *
 * @param array $in   Input.
 * @param array $base Values for missing keys.
 * @return array|string The settings, or why they were refused.
 */
function mmlq_edge_clean_tier_settings( array $in, array $base ) {
	$out = $base;
	if ( array_key_exists( 'basis', $in ) ) {
		if ( ! in_array( $in['basis'], array( 'library', 'model' ), true ) ) {
			return __( 'The tier basis must be "library" or "model".', 'mmlq-edge' );
		}
		$out['basis'] = $in['basis'];
	}
	foreach ( array( 'top', 'good', 'average' ) as $key ) {
		if ( array_key_exists( $key, $in ) ) {
			if ( ! is_numeric( $in[ $key ] ) || (int) $in[ $key ] != $in[ $key ] ) { // phpcs:ignore Universal.Operators.StrictComparisons -- "10" and 10 are both whole.
				return __( 'Each tier share must be a whole number of per cent.', 'mmlq-edge' );
			}
			$out[ $key ] = (int) $in[ $key ];
		}
	}
	if ( ! ( 1 <= $out['top'] && $out['top'] < $out['good'] && $out['good'] < $out['average'] && $out['average'] <= 100 ) ) {
		return __( 'The tier shares must grow from "top" to "average": 1 ≤ top < good < average ≤ 100.', 'mmlq-edge' );
	}
	if ( array_key_exists( 'hero_min', $in ) ) {
		if ( ! is_string( $in['hero_min'] ) || ! isset( mmlq_edge_tiers()[ $in['hero_min'] ] ) ) {
			return __( 'The minimum tier for "top" must be one of the tiers.', 'mmlq-edge' );
		}
		$out['hero_min'] = $in['hero_min'];
	}
	return $out;
}

/**
 * The option's sanitiser: a refused value keeps the stored one and says why on the settings page.
 *
 * @param mixed $input Submitted value.
 */
function mmlq_edge_sanitize_tier_settings( $input ): array {
	$current = mmlq_edge_tier_settings();
	$out     = mmlq_edge_clean_tier_settings( is_array( $input ) ? $input : array(), $current );
	if ( is_string( $out ) ) {
		if ( function_exists( 'add_settings_error' ) ) {
			add_settings_error( 'mmlq_edge_tiers', 'mmlq_edge_tiers', $out . ' ' . __( 'The previous tier settings were kept.', 'mmlq-edge' ) );
		}
		return $current;
	}
	return $out;
}

/**
 * Registers the option (its own group, `mmlq_edge_tiers`: the settings page's "Tiers" form).
 */
function mmlq_edge_register_tier_setting(): void {
	register_setting(
		'mmlq_edge_tiers',
		'mmlq_edge_tiers',
		array(
			'type'              => 'array',
			'sanitize_callback' => 'mmlq_edge_sanitize_tier_settings',
			'default'           => mmlq_edge_default_tier_settings(),
			'show_in_rest'      => false,
		)
	);
}

/**
 * The library percentile in the REST API's `edit` context, like the score meta; nobody writes it over
 * REST (the plugin computes it).
 */
function mmlq_edge_register_library_meta(): void {
	register_post_meta(
		'attachment',
		MMLQ_EDGE_LIBRARY_META,
		array(
			'type'          => 'number',
			'single'        => true,
			'show_in_rest'  => array( 'schema' => array( 'context' => array( 'edit' ) ) ),
			'auth_callback' => '__return_false',
		)
	);
}

/**
 * The library tier of the image ranked `$above + 1` of `$n` (ties share the better rank): "top" when
 * that rank is within the best `top` % of the n images (rounded to whole images, and at least the best
 * image), "good" within the best `good` %, "average" within the best `average` %, else "low".
 *
 * @param int   $above How many scored images score higher.
 * @param int   $n     How many images are scored.
 * @param array $s     Tier settings.
 */
function mmlq_edge_library_tier( int $above, int $n, array $s ): string {
	$rank = $above + 1;
	if ( $rank <= max( 1, (int) round( $n * $s['top'] / 100 ) ) ) {
		return 'top';
	}
	if ( $rank <= (int) round( $n * $s['good'] / 100 ) ) {
		return 'good';
	}
	if ( $rank <= (int) round( $n * $s['average'] / 100 ) ) {
		return 'average';
	}
	return 'low';
}

/**
 * Whether a tier is at least the minimum tier that counts as "top" (the best-image route's `top`).
 *
 * @param string|null $tier Tier slug.
 */
function mmlq_edge_tier_counts_as_top( ?string $tier ): bool {
	$order = array_keys( mmlq_edge_tiers() ); // Best first.
	$rank  = null === $tier ? false : array_search( $tier, $order, true );
	$min   = array_search( mmlq_edge_tier_settings()['hero_min'], $order, true );
	return false !== $rank && false !== $min && $rank <= $min;
}

/**
 * A score was written, changed or removed: recompute the library percentiles in the next cron run.
 *
 * @param int|int[] $meta_id   Meta ID(s).
 * @param int       $object_id Post ID.
 * @param string    $meta_key  Meta key.
 */
function mmlq_edge_on_score_meta( $meta_id, $object_id, $meta_key ): void {
	if ( 'mmlq_score' === $meta_key || 'mmlq_tier' === $meta_key ) {
		mmlq_edge_schedule_library_tiers();
	}
}

/**
 * A scored image was deleted: the others move up.
 *
 * @param int $id Attachment ID.
 */
function mmlq_edge_on_scored_deleted( $id ): void {
	if ( mmlq_edge_has_score( (int) $id ) ) {
		mmlq_edge_schedule_library_tiers();
	}
}

/**
 * One recompute event, due now: every score that lands before WP-cron runs it is covered by that one
 * run (the debounce); one scheduled while a run is going covers what that run may have missed.
 */
function mmlq_edge_schedule_library_tiers(): void {
	if ( false === wp_next_scheduled( 'mmlq_edge_library_tiers' ) ) {
		wp_schedule_single_event( time(), 'mmlq_edge_library_tiers' );
	}
}

/**
 * The function wrote a score over REST (meta and the model's tier term, in one request): the image
 * gets its library percentile and, on the library basis, its library tier term at once, so the media
 * library never shows the model's tier in between. The other images follow in the cron recompute.
 *
 * @param WP_Post         $post    Attachment.
 * @param WP_REST_Request $request Request.
 */
function mmlq_edge_after_rest_score( $post, $request ): void {
	$meta = $request instanceof WP_REST_Request ? $request->get_param( 'meta' ) : null;
	if ( ! $post instanceof WP_Post || ! is_array( $meta ) || ! array_key_exists( 'mmlq_score', $meta ) || ! mmlq_edge_has_score( $post->ID ) ) {
		return;
	}
	global $wpdb;
	$score = (string) get_post_meta( $post->ID, 'mmlq_score', true );
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$row = $wpdb->get_row(
		$wpdb->prepare(
			"SELECT COUNT(*) AS n, SUM( CAST( m.meta_value AS DECIMAL(20,10) ) > CAST( %s AS DECIMAL(20,10) ) ) AS above
			FROM {$wpdb->postmeta} m INNER JOIN {$wpdb->posts} p ON p.ID = m.post_id
			WHERE m.meta_key = 'mmlq_score' AND m.meta_value <> '' AND p.post_type = 'attachment'",
			$score
		),
		ARRAY_A
	);
	$n     = (int) ( $row['n'] ?? 0 );
	$above = (int) ( $row['above'] ?? 0 );
	if ( $n < 1 ) {
		return;
	}
	$percentile = round( 100 * ( $n - $above ) / $n, 1 );
	update_post_meta( $post->ID, MMLQ_EDGE_LIBRARY_META, $percentile );
	$settings = mmlq_edge_tier_settings();
	$tier     = 'library' === $settings['basis'] ? mmlq_edge_library_tier( $above, $n, $settings ) : (string) get_post_meta( $post->ID, 'mmlq_tier', true );
	if ( '' !== $tier ) {
		mmlq_edge_set_tier_term( $post->ID, $tier );
	}
	mmlq_edge_schedule_library_tiers();
}

/**
 * Sets an image's one tier term.
 *
 * @param int    $id   Attachment ID.
 * @param string $slug Tier slug.
 */
function mmlq_edge_set_tier_term( int $id, string $slug ): void {
	if ( ! isset( mmlq_edge_tiers()[ $slug ] ) ) {
		return;
	}
	if ( ! term_exists( $slug, 'mmlq_tier' ) ) {
		wp_insert_term( mmlq_edge_tiers()[ $slug ], 'mmlq_tier', array( 'slug' => $slug ) );
	}
	wp_set_object_terms( $id, array( $slug ), 'mmlq_tier' );
}

/**
 * The recompute (WP-cron `mmlq_edge_library_tiers`): one query reads every scored image's score, stored
 * library percentile, model tier and tier term, ordered best first; the percentiles follow from the
 * ranks; changed percentiles are written in a few multi-row statements, changed terms one by one (only
 * images that crossed a tier boundary, or all of them once when the basis or the shares change).
 *
 * @return array{images: int, percentiles: int, terms: int} What it saw and wrote.
 */
function mmlq_edge_recompute_library_tiers(): array {
	global $wpdb;
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$rows = $wpdb->get_results(
		$wpdb->prepare(
			"SELECT s.post_id AS id, s.meta_value AS score, l.meta_id AS lib_id, l.meta_value AS lib, mt.meta_value AS model_tier,
				( SELECT t.slug FROM {$wpdb->term_relationships} tr
					INNER JOIN {$wpdb->term_taxonomy} tt ON tt.term_taxonomy_id = tr.term_taxonomy_id AND tt.taxonomy = 'mmlq_tier'
					INNER JOIN {$wpdb->terms} t ON t.term_id = tt.term_id
					WHERE tr.object_id = s.post_id ORDER BY t.term_id LIMIT 1 ) AS term
			FROM {$wpdb->postmeta} s
			INNER JOIN {$wpdb->posts} p ON p.ID = s.post_id AND p.post_type = 'attachment'
			LEFT JOIN {$wpdb->postmeta} l ON l.post_id = s.post_id AND l.meta_key = %s
			LEFT JOIN {$wpdb->postmeta} mt ON mt.post_id = s.post_id AND mt.meta_key = 'mmlq_tier'
			WHERE s.meta_key = 'mmlq_score' AND s.meta_value <> ''
			ORDER BY CAST( s.meta_value AS DECIMAL(20,10) ) DESC, s.post_id ASC",
			MMLQ_EDGE_LIBRARY_META
		),
		ARRAY_A
	);
	$unique = array();
	foreach ( is_array( $rows ) ? $rows : array() as $row ) {
		// A duplicate score row (a "single" meta added twice by hand): the best one counts.
		$unique[ (int) $row['id'] ] ??= $row;
	}
	$n        = count( $unique );
	$settings = mmlq_edge_tier_settings();
	$update   = array();
	$insert   = array();
	$terms    = 0;
	$above    = 0;
	$i        = 0;
	$previous = null;
	foreach ( $unique as $id => $row ) {
		$score = (float) $row['score'];
		if ( null === $previous || $score < $previous ) {
			$above = $i; // Ties share the better place.
		}
		++$i;
		$previous   = $score;
		$percentile = round( 100 * ( $n - $above ) / $n, 1 );
		if ( null === $row['lib_id'] ) {
			$insert[ $id ] = $percentile;
		} elseif ( ! is_numeric( $row['lib'] ) || abs( (float) $row['lib'] - $percentile ) > 1e-9 ) {
			$update[ $id ] = $percentile;
		}
		$want = 'library' === $settings['basis'] ? mmlq_edge_library_tier( $above, $n, $settings ) : (string) $row['model_tier'];
		if ( '' !== $want && $want !== $row['term'] && isset( mmlq_edge_tiers()[ $want ] ) ) {
			mmlq_edge_set_tier_term( $id, $want );
			++$terms;
		}
	}
	foreach ( array_chunk( $update, MMLQ_EDGE_LIBRARY_CHUNK, true ) as $chunk ) {
		$cases = '';
		foreach ( $chunk as $id => $value ) {
			$cases .= $wpdb->prepare( ' WHEN %d THEN %s', $id, (string) $value );
		}
		$in = implode( ',', array_map( 'intval', array_keys( $chunk ) ) );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- prepared above, IDs are ints.
		$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->postmeta} SET meta_value = CASE post_id{$cases} END WHERE meta_key = %s AND post_id IN ({$in})", MMLQ_EDGE_LIBRARY_META ) );
	}
	foreach ( array_chunk( $insert, MMLQ_EDGE_LIBRARY_CHUNK, true ) as $chunk ) {
		$values = array();
		foreach ( $chunk as $id => $value ) {
			$values[] = $wpdb->prepare( '(%d, %s, %s)', $id, MMLQ_EDGE_LIBRARY_META, (string) $value );
		}
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.NotPrepared -- each row prepared above.
		$wpdb->query( "INSERT INTO {$wpdb->postmeta} (post_id, meta_key, meta_value) VALUES " . implode( ',', $values ) );
	}
	// Images whose score is gone lose their library percentile.
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$stale = array_map(
		'intval',
		$wpdb->get_col(
			$wpdb->prepare(
				"SELECT l.post_id FROM {$wpdb->postmeta} l
				LEFT JOIN {$wpdb->postmeta} s ON s.post_id = l.post_id AND s.meta_key = 'mmlq_score' AND s.meta_value <> ''
				WHERE l.meta_key = %s AND s.meta_id IS NULL",
				MMLQ_EDGE_LIBRARY_META
			)
		)
	);
	foreach ( $stale as $id ) {
		delete_post_meta( $id, MMLQ_EDGE_LIBRARY_META );
	}
	foreach ( array_keys( $update + $insert ) as $id ) {
		wp_cache_delete( $id, 'post_meta' );
	}
	return array(
		'images'      => $n,
		'percentiles' => count( $update ) + count( $insert ),
		'terms'       => $terms,
	);
}
