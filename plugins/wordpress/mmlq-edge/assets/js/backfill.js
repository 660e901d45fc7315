/**
 * MMLQ Edge: live progress of "Score all unscored images" (Media → Aesthetic scores, Settings → MMLQ
 * Edge) and of "Rescore images an older model scored" (Media → Aesthetic scores, when there are some).
 * Each button's form posts over REST instead (POST mmlq-edge/v1/backfill with its mode); the status
 * (GET mmlq-edge/v1/backfill) is polled every 2 s while the backfill queues images, every 10 s while
 * deliveries are pending. Without JavaScript the form posts to admin-post.php and the page shows the status at load.
 */
( function () {
	'use strict';
	var apiFetch = window.wp && window.wp.apiFetch;
	var __ = window.wp && window.wp.i18n ? window.wp.i18n.__ : function ( text ) {
		return text;
	};
	var line = document.querySelector( '.mmlq-edge-progress' );
	if ( ! apiFetch || ! line ) {
		return;
	}
	var bar = document.getElementById( 'mmlq-edge-backfill-bar' );
	var state = document.querySelector( '.mmlq-edge-state' );
	var forms = Array.prototype.map.call(
		document.querySelectorAll( 'form input[name="action"][value="mmlq_edge_backfill"]' ),
		function ( input ) {
			return input.form;
		}
	);
	var buttons = forms
		.map( function ( form ) {
			return form.querySelector( '[type="submit"]' );
		} )
		.filter( Boolean );
	var timer = null;
	var labels = {
		running: __( 'Queuing images…', 'mmlq-edge' ),
		done: __( 'Done', 'mmlq-edge' ),
		idle: '',
	};

	function render( s ) {
		line.textContent = s.message;
		if ( bar ) {
			bar.max = Math.max( 1, s.total );
			bar.value = s.state === 'done' ? bar.max : s.queued;
		}
		if ( state ) {
			state.setAttribute( 'data-state', s.state );
			state.textContent = labels[ s.state ] || '';
		}
		buttons.forEach( function ( button ) {
			button.disabled = s.state === 'running';
		} );
	}

	function poll() {
		apiFetch( { path: '/mmlq-edge/v1/backfill' } ).then(
			function ( s ) {
				render( s );
				// Every 2 s while images are being queued, every 10 s while only deliveries are pending.
				if ( s.state === 'running' ) {
					timer = window.setTimeout( poll, 2000 );
				} else {
					timer = s.pending > 0 ? window.setTimeout( poll, 10000 ) : null;
				}
			},
			function () {
				timer = window.setTimeout( poll, 10000 );
			}
		);
	}

	forms.forEach( function ( form ) {
		form.addEventListener( 'submit', function ( event ) {
			event.preventDefault();
			var mode = form.querySelector( 'input[name="mode"]' );
			buttons.forEach( function ( button ) {
				button.disabled = true;
			} );
			apiFetch( {
				path: '/mmlq-edge/v1/backfill',
				method: 'POST',
				data: { mode: mode ? mode.value : 'unscored' },
			} ).then(
				function ( s ) {
					render( s );
					if ( timer ) {
						window.clearTimeout( timer );
					}
					timer = window.setTimeout( poll, 1000 );
				},
				function ( error ) {
					line.textContent = ( error && error.message ) || __( 'The backfill could not be started.', 'mmlq-edge' );
					buttons.forEach( function ( button ) {
						button.disabled = false;
					} );
				}
			);
		} );
	} );
	var initial = state ? state.getAttribute( 'data-state' ) : '';
	render( { message: line.textContent, total: bar ? bar.max : 1, queued: bar ? bar.value : 0, state: initial || 'idle' } );
	poll();
} )();
