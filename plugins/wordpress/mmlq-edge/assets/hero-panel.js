/**
 * MMLQ Edge: the block editor's "Hero image" panel (post sidebar, Post tab).
 *
 * A plain script on the editor's globals (no build step): it lists the post's images best first from
 * GET /mmlq-edge/v1/posts/<id>/hero (score, tier, weakest attributes, near-duplicates collapsed),
 * sets one as the featured image (core/editor editPost featured_media, saved with the post), and
 * previews and applies its smart crop for the site's featured-image aspect (POST …/hero/crop makes an
 * edited copy, which becomes the featured image).
 */
(function (wp) {
	'use strict';

	var el = wp.element.createElement;
	var useState = wp.element.useState;
	var useEffect = wp.element.useEffect;
	var useRef = wp.element.useRef;
	var useSelect = wp.data.useSelect;
	var useDispatch = wp.data.useDispatch;
	var Button = wp.components.Button;
	var Spinner = wp.components.Spinner;
	var Notice = wp.components.Notice;
	var apiFetch = wp.apiFetch;
	var addQueryArgs = wp.url.addQueryArgs;
	var __ = wp.i18n.__;
	var _n = wp.i18n._n;
	var sprintf = wp.i18n.sprintf;
	// WordPress 6.6 moved the panel slot to wp.editor; 6.1 has it in wp.editPost.
	var PluginDocumentSettingPanel =
		(wp.editor && wp.editor.PluginDocumentSettingPanel) || wp.editPost.PluginDocumentSettingPanel;

	/** While an image is still queued for scoring, the list is read again this often. */
	var POLL_MS = 5000;
	/** The panel's name in the editor's preferences (plugin name / panel name). */
	var PANEL = 'mmlq-edge-hero/mmlq-edge-hero';

	/** Image IDs used by the editor's blocks (saved or not): image, gallery, cover, media & text. */
	function blockImageIds(blocks, out) {
		blocks.forEach(function (block) {
			var a = block.attributes || {};
			if ((block.name === 'core/image' || block.name === 'core/cover') && a.id) out.push(a.id);
			if (block.name === 'core/media-text' && a.mediaId && a.mediaType === 'image') out.push(a.mediaId);
			if (block.innerBlocks && block.innerBlocks.length) blockImageIds(block.innerBlocks, out);
		});
		return out;
	}

	function formatScore(value) {
		return Number(value).toFixed(2);
	}

	function weakestLine(item) {
		if (!item.weakest.length) return __('No weak attributes', 'mmlq-edge');
		return sprintf(
			/* translators: %s: attributes with their values, e.g. "sharpness 0.27, noise 0.84". */
			__('Weakest: %s', 'mmlq-edge'),
			item.weakest
				.map(function (w) {
					return w.label + ' ' + Number(w.value).toFixed(2);
				})
				.join(', '),
		);
	}

	function similarTitle(item) {
		return item.similar
			.map(function (s) {
				var size = s.width && s.height ? s.width + ' × ' + s.height : '#' + s.id;
				return s.score === null
					? size
					: sprintf(
							/* translators: 1: pixel size, 2: score. */
							__('%1$s (score %2$s)', 'mmlq-edge'),
							size,
							formatScore(s.score),
						);
			})
			.join(', ');
	}

	/** The smart crop, drawn by placing the large image in a box of the crop's shape. */
	function CropPreview(props) {
		var item = props.item;
		var crop = item.crop;
		var style = {
			width: (100 * item.width) / crop.width + '%',
			height: (100 * item.height) / crop.height + '%',
			left: (-100 * crop.left) / crop.width + '%',
			top: (-100 * crop.top) / crop.height + '%',
		};
		return el(
			'div',
			{ className: 'mmlq-edge-hero__crop' },
			el(
				'div',
				{
					className: 'mmlq-edge-hero__crop-frame',
					style: { aspectRatio: crop.width + ' / ' + crop.height },
				},
				el('img', { src: item.preview || item.thumbnail, alt: '', style: style }),
			),
			el(
				'p',
				{ className: 'mmlq-edge-hero__crop-caption' },
				crop.score === null
					? sprintf(
							/* translators: 1: aspect ratio, 2: width, 3: height. */
							__('Smart crop %1$s: %2$d × %3$d px', 'mmlq-edge'),
							crop.aspect,
							crop.width,
							crop.height,
						)
					: sprintf(
							/* translators: 1: aspect ratio, 2: width, 3: height, 4: the crop's score. */
							__('Smart crop %1$s: %2$d × %3$d px, score %4$s', 'mmlq-edge'),
							crop.aspect,
							crop.width,
							crop.height,
							formatScore(crop.score),
						),
			),
			el(
				Button,
				{
					variant: 'secondary',
					className: 'mmlq-edge-hero__apply-crop',
					isBusy: props.busy,
					disabled: props.busy,
					onClick: props.onApply,
				},
				__('Use crop as featured image', 'mmlq-edge'),
			),
		);
	}

	function Candidate(props) {
		var item = props.item;
		var rank = props.rank;
		var details = [];
		if (item.scored) {
			details.push(
				el(
					'p',
					{ key: 'score', className: 'mmlq-edge-hero__score' },
					el('strong', null, formatScore(item.score)),
					' ',
					item.tier
						? el(
								'span',
								{ className: 'mmlq-edge-tier mmlq-edge-tier-' + item.tier },
								item.tier_name || item.tier,
							)
						: null,
					item.percentile === null
						? null
						: el(
								'span',
								{ className: 'mmlq-edge-hero__pct' },
								' ' +
									sprintf(
										/* translators: %s: percentile, e.g. 91.5. */
										__('%s pct', 'mmlq-edge'),
										item.percentile,
									),
							),
				),
				el('p', { key: 'weak', className: 'mmlq-edge-hero__weakest' }, weakestLine(item)),
			);
		} else {
			details.push(
				el(
					'p',
					{ key: 'status', className: 'mmlq-edge-hero__unscored is-' + item.status.state },
					item.status.message,
				),
			);
		}
		if (item.similar.length) {
			details.push(
				el(
					'p',
					{ key: 'similar', className: 'mmlq-edge-hero__similar', title: similarTitle(item) },
					sprintf(
						/* translators: %d: how many near-duplicates are hidden under this image. */
						_n('+%d similar', '+%d similar', item.similar.length, 'mmlq-edge'),
						item.similar.length,
					),
				),
			);
		}
		if (item.crop_of) {
			details.push(
				el(
					'p',
					{ key: 'copy', className: 'mmlq-edge-hero__copy' },
					/* translators: shown on an image that the panel cut from another one. */
					__('Cropped copy', 'mmlq-edge'),
				),
			);
		}
		return el(
			'li',
			{
				className: 'mmlq-edge-hero__item' + (item.featured ? ' is-featured' : ''),
				'data-id': item.id,
			},
			el(
				'div',
				{ className: 'mmlq-edge-hero__row' },
				el('span', { className: 'mmlq-edge-hero__rank' }, rank + '.'),
				item.thumbnail
					? el('img', { className: 'mmlq-edge-hero__thumb', src: item.thumbnail, alt: item.alt })
					: null,
				el(
					'div',
					{ className: 'mmlq-edge-hero__details' },
					el('p', { className: 'mmlq-edge-hero__title' }, item.title || '#' + item.id),
					details,
				),
			),
			el(
				'div',
				{ className: 'mmlq-edge-hero__actions' },
				item.featured
					? el('span', { className: 'mmlq-edge-hero__featured' }, __('Featured image', 'mmlq-edge'))
					: el(
							Button,
							{
								variant: rank === 1 ? 'primary' : 'secondary',
								className: 'mmlq-edge-hero__set',
								onClick: props.onSetFeatured,
							},
							__('Set as featured image', 'mmlq-edge'),
						),
				item.crop && !props.showCrop
					? el(
							Button,
							{ variant: 'link', className: 'mmlq-edge-hero__show-crop', onClick: props.onShowCrop },
							sprintf(
								/* translators: %s: aspect ratio, e.g. 16:9. */
								__('Preview %s crop', 'mmlq-edge'),
								item.crop.aspect,
							),
						)
					: null,
			),
			item.crop && props.showCrop
				? el(CropPreview, { item: item, busy: props.cropping, onApply: props.onApplyCrop })
				: null,
		);
	}

	function HeroPanel() {
		var editor = useSelect(function (select) {
			var ed = select('core/editor');
			var blocks = select('core/block-editor').getBlocks();
			var ids = blockImageIds(blocks, []);
			ids.sort(function (a, b) {
				return a - b;
			});
			return {
				postId: ed.getCurrentPostId(),
				featured: ed.getEditedPostAttribute('featured_media') || 0,
				// A string, so that the panel reads again only when the set of images changes.
				include: ids.filter(function (id, i) {
					return ids.indexOf(id) === i;
				}).join(','),
				saving: ed.isSavingPost() && !ed.isAutosavingPost(),
				// Nothing is read while the panel is closed.
				opened: select('core/edit-post').isEditorPanelOpened(PANEL),
			};
		}, []);
		var editPost = useDispatch('core/editor').editPost;
		var [data, setData] = useState(null);
		var [error, setError] = useState(null);
		var [message, setMessage] = useState(null);
		var [loading, setLoading] = useState(false);
		var [cropping, setCropping] = useState(0);
		var [shown, setShown] = useState(null);
		var [tick, setTick] = useState(0);
		var request = useRef(0);

		useEffect(
			function () {
				if (!editor.postId || editor.saving || !editor.opened) return undefined;
				var mine = ++request.current;
				setLoading(true);
				apiFetch({
					path: addQueryArgs('/mmlq-edge/v1/posts/' + editor.postId + '/hero', {
						featured: editor.featured,
						include: editor.include ? editor.include.split(',') : [],
					}),
				})
					.then(function (answer) {
						if (mine !== request.current) return;
						setData(answer);
						setError(null);
					})
					.catch(function (e) {
						if (mine !== request.current) return;
						setError((e && e.message) || __('The images could not be loaded.', 'mmlq-edge'));
					})
					.finally(function () {
						if (mine === request.current) setLoading(false);
					});
				return undefined;
			},
			[editor.postId, editor.featured, editor.include, editor.saving, editor.opened, tick],
		);

		var waiting =
			!!data &&
			data.candidates.some(function (c) {
				return !c.scored && c.status.state === 'queued';
			});
		useEffect(
			function () {
				if (!waiting || !editor.opened) return undefined;
				var timer = setTimeout(function () {
					setTick(tick + 1);
				}, POLL_MS);
				return function () {
					clearTimeout(timer);
				};
			},
			[waiting, editor.opened, tick, data],
		);

		function setFeatured(id) {
			setMessage(null);
			editPost({ featured_media: id });
		}

		function applyCrop(item) {
			setCropping(item.id);
			setMessage(null);
			apiFetch({
				path: '/mmlq-edge/v1/posts/' + editor.postId + '/hero/crop',
				method: 'POST',
				data: { attachment: item.id, aspect: item.crop.aspect },
			})
				.then(function (copy) {
					editPost({ featured_media: copy.id });
					setMessage(
						sprintf(
							/* translators: 1: aspect ratio, 2: width, 3: height. */
							__('The %1$s crop (%2$d × %3$d px) is the featured image; save the post to keep it.', 'mmlq-edge'),
							copy.box.aspect,
							copy.width,
							copy.height,
						),
					);
					setTick(tick + 1);
				})
				.catch(function (e) {
					setError((e && e.message) || __('The crop could not be made.', 'mmlq-edge'));
				})
				.finally(function () {
					setCropping(0);
				});
		}

		var body;
		if (!data) {
			body = error ? null : el(Spinner);
		} else if (!data.candidates.length) {
			body = el(
				'p',
				{ className: 'mmlq-edge-hero__empty' },
				__('No images yet: upload images to this post or add them to its content.', 'mmlq-edge'),
			);
		} else {
			var open =
				shown !== null
					? shown
					: (
							data.candidates.find(function (c) {
								return c.crop;
							}) || {}
						).id;
			body = el(
				'ol',
				{ className: 'mmlq-edge-hero__list' },
				data.candidates.map(function (item, i) {
					return el(Candidate, {
						key: item.id,
						item: item,
						rank: i + 1,
						showCrop: item.id === open,
						cropping: cropping === item.id,
						onSetFeatured: function () {
							setFeatured(item.id);
						},
						onShowCrop: function () {
							setShown(item.id);
						},
						onApplyCrop: function () {
							applyCrop(item);
						},
					});
				}),
			);
		}

		return el(
			PluginDocumentSettingPanel,
			{ name: 'mmlq-edge-hero', title: __('Hero image', 'mmlq-edge'), className: 'mmlq-edge-hero' },
			error
				? el(Notice, { status: 'error', isDismissible: true, onRemove: function () { setError(null); } }, error)
				: null,
			message
				? el(Notice, { status: 'success', isDismissible: true, onRemove: function () { setMessage(null); } }, message)
				: null,
			el(
				'p',
				{ className: 'mmlq-edge-hero__intro' },
				__('This post\'s images, best first, scored by MMLQ Edge.', 'mmlq-edge'),
				data && data.on_publish
					? ' ' + __('If none is set, the best becomes the featured image on publish.', 'mmlq-edge')
					: '',
			),
			body,
			el(
				'div',
				{ className: 'mmlq-edge-hero__footer' },
				el(
					Button,
					{
						variant: 'tertiary',
						className: 'mmlq-edge-hero__refresh',
						isBusy: loading,
						disabled: loading,
						onClick: function () {
							setTick(tick + 1);
						},
					},
					__('Refresh', 'mmlq-edge'),
				),
			),
		);
	}

	wp.plugins.registerPlugin('mmlq-edge-hero', { render: HeroPanel, icon: 'format-image' });
})(window.wp);
