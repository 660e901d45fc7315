/**
 * The WordPress site the results go back to, over its REST API with an application password
 * (HTTP Basic). The only module that imports wordpress-api-client: it can be replaced here alone.
 *
 * Writes: `POST /wp-json/wp/v2/media/<id>` with the plugin's registered meta (`mmlq_score`, …) and
 * exactly one term of the plugin's `mmlq_tier` taxonomy. Both are idempotent (same body, same state).
 * wordpress-api-client reports a failed call as an Error whose message ends in "(<status>)", and a
 * transport failure as whatever fetch threw; both become WORDPRESS_FAILED (502: retried by the plugin),
 * except a missing attachment, which callers see as `undefined`.
 */
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
  /** JSON of the crops array ([{ aspect, left, top, width, height, score }]), '' when none were asked. */
  mmlq_crops?: string;
  /** The near-duplicate key, 16 lowercase hex digits (docs/API.md, "Near-duplicates"). */
  mmlq_phash?: string;
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
  private readonly origin: string;
  private readonly termIds = new Map<string, number>();

  constructor(readonly config: SiteConfig) {
    const base = config.siteUrl.endsWith('/') ? config.siteUrl : `${config.siteUrl}/`;
    this.origin = new URL(base).origin;
    this.client = new Client(base, {
      auth: { type: 'basic', username: config.user, password: config.appPassword },
      onError: () => Promise.resolve(), // errors are thrown and handled below, not logged twice
    });
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
