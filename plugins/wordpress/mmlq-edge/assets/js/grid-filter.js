/**
 * MMLQ Edge: a tier filter in the media grid and the media modal. The selected tier travels as the
 * `mmlq_tier` query prop of wp.media's attachments query; the plugin maps it to a tax query in
 * `ajax_query_attachments_args` (includes/admin/list-filter.php).
 */
( function () {
	'use strict';
	var media = window.wp && window.wp.media;
	var settings = window.mmlqEdgeGrid;
	if ( ! media || ! media.view || ! media.view.AttachmentsBrowser || ! media.view.AttachmentFilters || ! settings ) {
		return;
	}

	var TierFilter = media.view.AttachmentFilters.extend( {
		id: 'mmlq-edge-grid-tier-filter',
		className: 'attachment-filters mmlq-edge-grid-tier-filter',
		createFilters: function () {
			var filters = {
				all: { text: settings.all, props: { mmlq_tier: null }, priority: 10 },
			};
			settings.tiers.forEach( function ( tier, i ) {
				filters[ tier.slug ] = { text: tier.name, props: { mmlq_tier: tier.slug }, priority: 20 + i };
			} );
			this.filters = filters;
		},
	} );

	var Browser = media.view.AttachmentsBrowser;
	media.view.AttachmentsBrowser = Browser.extend( {
		createToolbar: function () {
			Browser.prototype.createToolbar.apply( this, arguments );
			// Only where the library is browsed (not on e.g. the "Edit gallery" screen).
			if ( ! this.options.filters ) {
				return;
			}
			this.toolbar.set(
				'mmlqEdgeTierLabel',
				new media.view.Label( {
					value: settings.label,
					attributes: { for: 'mmlq-edge-grid-tier-filter' },
					priority: -70,
				} ).render()
			);
			this.toolbar.set(
				'mmlqEdgeTierFilter',
				new TierFilter( {
					controller: this.controller,
					model: this.collection.props,
					priority: -70,
				} ).render()
			);
		},
	} );
} )();
