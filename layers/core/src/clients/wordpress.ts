/**
 * The WordPress site the results go back to, over its REST API with an application password
 * (HTTP Basic). The only module that imports wordpress-api-client: it can be replaced here alone.
 *
 * Writes: `POST /wp-json/wp/v2/media/<id>` with the plugin's registered meta (`mmlq_score`, …) and
 * exactly one term of the plugin's `mmlq_tier` taxonomy. Both are idempotent (same body, same state).
 * wordpress-api-client reports a failed call as an Error whose message ends in "(<status>)", and a
 * transport failure as whatever fetch threw; both become WORDPRESS_FAILED (502: retried by the plugin),
 * except a missing attachment, which callers see as `undefined`.
 *
 * The library's own transport (cross-fetch) drops the response headers and takes no abort signal, so
 * its endpoints run over `RestTransport` below: Node's fetch, a socket closed after the timeout, no
 * redirects followed (the application password is never sent on to another URL), and a failed answer
 * thrown as a `WordPressHttpError` that keeps its status and Retry-After (the CLI's backfill retries on
 * them) under the library's own message. Also here, shared by wp-webhook and the CLI: the texts of an
 * attachment as the model reads them, and the idempotency key stored with its score (`mmlq_key`).
 */
import { createHash } from 'node:crypto';
import { WpApiClient } from 'wordpress-api-client/dist/wp-api-client.js';
import { EdgeError } from '../common/errors.ts';
import { withTimeout } from '../common/time.ts';

export interface SiteConfig {
  /** e.g. https://example.com/ (REST at <siteUrl>wp-json/). */
  siteUrl: string;
  user: string;
  appPassword: string;
  /** Each REST call fails after this long without an answer. */
  timeoutMs: number;
  /** Awaited before each request (the CLI's rate limit). */
  beforeRequest?: () => Promise<void>;
}

/** The meta keys the plugin registers (plugins/wordpress/mmlq-edge). */
export interface ScoreMeta {
  mmlq_score?: number;
  mmlq_std?: number;
  mmlq_percentile?: number;
  mmlq_tier?: string;
  mmlq_model: string;
  mmlq_scored_at: string;
  mmlq_attributes?: string;
  mmlq_key: string;
  mmlq_error: string;
}

interface Term {
  id: number;
  slug: string;
}

interface Media {
  id: number;
  meta?: Partial<Record<keyof ScoreMeta, unknown>>;
}

class Client extends WpApiClient {
  constructor(base: string, options: ConstructorParameters<typeof WpApiClient>[1], transport: RestTransport) {
    super(base, options);
    // The endpoints call this.http.get/post at call time: ours replaces the library's (see above).
    (this as unknown as { http: RestTransport }).http = transport;
  }
  readonly index = this.createEndpointCustomGet<SiteIndex>('');
  readonly me = this.createEndpointCustomGet<CurrentUser>('wp/v2/users/me?context=edit');
  readonly attachments = {
    find: this.createEndpointGet<Media>('wp/v2/media'),
    update: this.createEndpointPost<Media & { mmlq_tier: number[] }>('wp/v2/media'),
  };
  readonly tiers = {
    find: this.createEndpointGet<Term>('wp/v2/mmlq_tier'),
    create: this.createEndpointPost<Term & { name: string }>('wp/v2/mmlq_tier'),
  };
}

function statusOfMessage(error: unknown): number | undefined {
  const match = /\((\d{3})\)$/.exec(error instanceof Error ? error.message : '');
  return match ? Number(match[1]) : undefined;
}

export class WordPressSite {
  private readonly client: Client;
  private readonly transport: RestTransport;
  private readonly origin: string;
  private readonly termIds = new Map<string, number>();

  constructor(readonly config: SiteConfig) {
    const base = config.siteUrl.endsWith('/') ? config.siteUrl : `${config.siteUrl}/`;
    this.origin = new URL(base).origin;
    this.transport = new RestTransport(
      `${new URL('wp-json', base).href}/`,
      { authorization: `Basic ${Buffer.from(`${config.user}:${config.appPassword}`).toString('base64')}` },
      config.timeoutMs,
      config.beforeRequest,
    );
    this.client = new Client(
      base,
      {
        auth: { type: 'basic', username: config.user, password: config.appPassword },
        onError: () => Promise.resolve(), // errors are thrown and handled below, not logged twice
      },
      this.transport,
    );
  }

  /** wordpress-api-client takes no abort signal: each call is raced against the deadline. */
  private timed<T>(what: string, run: () => Promise<T>): Promise<T> {
    return withTimeout(
      run(),
      this.config.timeoutMs,
      () =>
        new EdgeError(
          'WORDPRESS_FAILED',
          `WordPress at ${this.origin} did not answer within ${this.config.timeoutMs} ms (${what})`,
        ),
    );
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await this.timed(what, run);
    } catch (error) {
      if (error instanceof EdgeError) throw error;
      const status = statusOfMessage(error);
      const detail =
        status === 401 || status === 403
          ? `answered ${status}: check the application password and that its user has the MMLQ Edge scorer role (capability mmlq_edge_write_scores)`
          : status === undefined
            ? 'could not be reached'
            : `answered ${status}`;
      throw new EdgeError('WORDPRESS_FAILED', `WordPress at ${this.origin} ${detail} (${what})`, {
        cause: error,
      });
    }
  }

  /** The site's REST index: its home URL (the origin in `mmlq_key`) and the active plugins' namespaces. */
  async describe(): Promise<{ home: string; namespaces: string[] }> {
    const index = await this.call('reading the REST index', () => this.client.index());
    if (typeof index?.home !== 'string' || !Array.isArray(index.namespaces)) {
      throw new EdgeError('WORDPRESS_FAILED', `${this.origin}/wp-json/ is not a WordPress REST index`);
    }
    return { home: index.home, namespaces: index.namespaces.filter((n) => typeof n === 'string') };
  }

  /** Who the application password belongs to, with their capabilities (`context=edit` of oneself). */
  async currentUser(): Promise<{ id: number; slug: string; roles: string[]; capabilities: Set<string> }> {
    const me = await this.call('reading the current user', () => this.client.me());
    if (!me || typeof me.id !== 'number') {
      throw new EdgeError('WORDPRESS_FAILED', `WordPress at ${this.origin} did not say who the user is`);
    }
    const caps = Object.entries(me?.capabilities ?? {})
      .filter(([, on]) => on === true)
      .map(([cap]) => cap);
    return { id: me.id, slug: String(me.slug ?? ''), roles: me.roles ?? [], capabilities: new Set(caps) };
  }

  /**
   * One page of the site's images, oldest id first (`orderby=id`: new uploads go to the end, so a
   * position stays meaningful across runs), with what scoring needs in `context=edit`, and the total.
   */
  async listImages(offset: number, perPage: number): Promise<{ items: MediaItem[]; total: number }> {
    const query = new URLSearchParams({
      media_type: 'image',
      context: 'edit',
      orderby: 'id',
      order: 'asc',
      offset: String(offset),
      per_page: String(perPage),
      _fields: MEDIA_FIELDS,
    });
    const { data, headers } = await this.call(`listing images from ${offset}`, () =>
      this.transport.request(`wp/v2/media?${query}`, 'get'),
    );
    if (!Array.isArray(data)) {
      throw new EdgeError(
        'WORDPRESS_FAILED',
        `WordPress at ${this.origin} answered a media list that is not a list`,
      );
    }
    const total = Number(headers.get('x-wp-total'));
    return { items: data as MediaItem[], total: Number.isFinite(total) ? total : data.length };
  }

  /** One image by id (`context=edit`), undefined when it is gone. */
  async image(id: number): Promise<MediaItem | undefined> {
    try {
      const { data } = await this.timed(`reading attachment ${id}`, () =>
        this.transport.request(
          `wp/v2/media/${id}?${new URLSearchParams({ context: 'edit', _fields: MEDIA_FIELDS })}`,
          'get',
        ),
      );
      return data as MediaItem;
    } catch (error) {
      if (error instanceof EdgeError) throw error;
      if (statusOfMessage(error) === 404) return undefined;
      return this.call(`reading attachment ${id}`, () => Promise.reject(error));
    }
  }

  /** The idempotency key stored with the attachment's score, '' when none; undefined if it is gone. */
  async storedKey(id: number): Promise<string | undefined> {
    try {
      const [media] = await this.timed(`reading attachment ${id}`, () =>
        this.client.attachments.find(new URLSearchParams({ context: 'edit' }), id),
      );
      const key = media?.meta?.mmlq_key;
      return typeof key === 'string' ? key : '';
    } catch (error) {
      if (error instanceof EdgeError) throw error;
      if (statusOfMessage(error) === 404) return undefined;
      return this.call(`reading attachment ${id}`, () => Promise.reject(error));
    }
  }

  /** The id of a tier term, created when the plugin has not (yet) created it. */
  async tierTermId(slug: string): Promise<number> {
    const cached = this.termIds.get(slug);
    if (cached !== undefined) return cached;
    const found = await this.call(`finding tier term ${slug}`, () =>
      this.client.tiers.find(new URLSearchParams({ slug, context: 'edit' })),
    );
    const term =
      found.find((t) => t?.slug === slug) ??
      (await this.call(`creating tier term ${slug}`, () =>
        this.client.tiers.create({ slug, name: slug[0]!.toUpperCase() + slug.slice(1) }),
      ));
    this.termIds.set(slug, term.id);
    return term.id;
  }

  /** Writes the score (or the error) and sets the tier term; no tier clears it. */
  async writeScore(id: number, meta: ScoreMeta, tier: string | undefined): Promise<void> {
    const terms = tier === undefined ? [] : [await this.tierTermId(tier)];
    await this.call(`writing the score of attachment ${id}`, () =>
      this.client.attachments.update({ meta, mmlq_tier: terms } as never, id),
    );
  }
}

/** One client per application password: a rotated password (secrets.ts) gets a new client. */
export function siteFor(base: Omit<SiteConfig, 'appPassword'>): (appPassword: string) => WordPressSite {
  let site: WordPressSite | undefined;
  return (appPassword) => {
    if (site?.config.appPassword !== appPassword) site = new WordPressSite({ ...base, appPassword });
    return site;
  };
}

interface SiteIndex {
  home?: unknown;
  namespaces?: unknown[];
}

interface CurrentUser {
  id: number;
  slug?: string;
  roles?: string[];
  capabilities?: Record<string, unknown>;
}

/** An image attachment as listed in `context=edit` (the fields MEDIA_FIELDS asks for). */
export interface MediaItem {
  id: number;
  source_url?: string;
  mime_type?: string;
  title?: { raw?: string };
  caption?: { raw?: string };
  alt_text?: string;
  description?: { raw?: string };
  meta?: Partial<Record<keyof ScoreMeta, unknown>>;
}

const MEDIA_FIELDS = 'id,source_url,mime_type,title,caption,alt_text,description,meta';

/** A non-2xx answer of the site, with the message wordpress-api-client would have given. */
export class WordPressHttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** From Retry-After (seconds or an HTTP date), when the site sent one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    this.name = 'WordPressHttpError';
  }
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The status and Retry-After of a failed REST call, as thrown by WordPressSite (a cause inside WORDPRESS_FAILED). */
export function wordPressFailure(error: unknown): { status?: number; retryAfterMs?: number | undefined } {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof WordPressHttpError) return { status: e.status, retryAfterMs: e.retryAfterMs };
  }
  return {};
}

/**
 * What wordpress-api-client's endpoints call (`get`, `post`, …) over Node's fetch: the socket is closed
 * a second after the caller's own timeout has given up (WordPressSite.timed), redirects are refused.
 */
class RestTransport {
  constructor(
    private readonly baseUrl: string,
    private readonly auth: Record<string, string>,
    private readonly timeoutMs: number,
    private readonly beforeRequest: (() => Promise<void>) | undefined,
  ) {}

  async request(path: string, method: string, body?: string): Promise<{ data: unknown; headers: Headers }> {
    await this.beforeRequest?.();
    const url = this.baseUrl + path;
    const res = await fetch(url, {
      method: method.toUpperCase(),
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...this.auth,
      },
      ...(body === undefined ? {} : { body }),
      redirect: 'manual',
      signal: AbortSignal.timeout(this.timeoutMs + 1000),
    });
    const where = url.split('?')[0];
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const to = res.headers.get('location') ?? 'nowhere';
      throw new WordPressHttpError(
        `[WpApiClient Error] There was an error when calling the end point ${where}: "redirects to ${to.slice(0, 200)}; use the site's final address" (${res.status})`,
        res.status,
        undefined,
      );
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = undefined;
    }
    if (res.status >= 400) {
      const detail =
        typeof data === 'object' &&
        data !== null &&
        typeof (data as { message?: unknown }).message === 'string'
          ? (data as { message: string }).message
          : res.statusText;
      throw new WordPressHttpError(
        `[WpApiClient Error] There was an error when calling the end point ${where}: ${JSON.stringify(detail)} (${res.status})`,
        res.status,
        parseRetryAfter(res.headers.get('retry-after')),
      );
    }
    if (data === undefined) {
      throw new WordPressHttpError(
        `[WpApiClient Error] The end point ${where} answered ${res.status} with a body that is not JSON`,
        res.status,
        undefined,
      );
    }
    return { data, headers: res.headers };
  }

  async get<T>(url: string): Promise<T> {
    return (await this.request(url, 'get')).data as T;
  }

  async getAll<T>(url: string): Promise<T[]> {
    return ((await this.request(url, 'get')).data ?? []) as T[];
  }

  async getTotal(url: string): Promise<number> {
    return Number((await this.request(url, 'get')).headers.get('x-wp-totalpages'));
  }

  async post<T>(url: string, _headers?: Record<string, string>, body?: string): Promise<T> {
    return (await this.request(url, 'post', body)).data as T;
  }

  async delete<T>(url: string): Promise<T> {
    return (await this.request(url, 'delete')).data as T;
  }
}

/** The texts of an attachment the plugin sends (docs/WORDPRESS.md); comments only when its setting is on. */
export interface AttachmentTexts {
  title: string;
  caption: string;
  alt: string;
  description: string;
  comments: readonly string[];
}

/** Markup and entities out; what a reader sees stays. */
function plain(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The texts around the image, in the order the model gets them: caption, alt text, title,
 * description, then comments. Empty ones are dropped (all empty = image-only).
 */
export function attachmentTexts(a: AttachmentTexts): string[] {
  return [a.caption, a.alt, a.title, a.description, ...a.comments].map(plain).filter((t) => t.length > 0);
}

/**
 * What a stored score is for: this site's attachment, these image bytes, this text and this model.
 * A delivery whose key equals the stored one is a duplicate (no rescoring, no write).
 */
export function attachmentKey(
  site: string,
  a: AttachmentTexts & { id: number; sha256: string },
  model: { name: string; version: string },
) {
  const textHash = createHash('sha256').update(attachmentTexts(a).join('\n')).digest('hex').slice(0, 16);
  return `${new URL(site).origin}#${a.id}#${a.sha256}#${textHash}@${model.name}@${model.version}`;
}

/** At most `max` characters (code points), as the plugin clips each text (mmlq_edge_clip). */
export function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length > max ? chars.slice(0, max).join('') : text;
}

/** The texts of a listed attachment, clipped as the plugin clips them (includes/payload.php). */
export function mediaTexts(item: MediaItem, comments: readonly string[] = []): AttachmentTexts {
  return {
    title: clip(item.title?.raw ?? '', 2_000),
    caption: clip(item.caption?.raw ?? '', 10_000),
    alt: clip(item.alt_text ?? '', 2_000),
    description: clip(item.description?.raw ?? '', 20_000),
    comments: comments.map((c) => clip(c, 5_000)),
  };
}
