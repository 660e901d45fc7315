/**
 * Fetches images from URLs without becoming an SSRF proxy:
 * - only exact allow-listed origins (scheme://host:port), no credentials in the URL;
 * - every address the host resolves to must be public: loopback, private, link-local (cloud metadata
 *   at 169.254.169.254), CGNAT, multicast and documentation ranges are refused; so are the IPv6 forms
 *   that carry an IPv4 address: IPv4-mapped ::ffff:0:0/96 (judged by the IPv4 inside), and, whatever
 *   they embed, IPv4-compatible ::/96, IPv4-translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and
 *   64:ff9b:1::/48, 6to4 2002::/16 and Teredo 2001::/32 (no image host needs them). Decimal, octal and
 *   hex IPv4 hosts (http://2130706433/) reach this check as the URL parser normalises them (127.0.0.1);
 *   the connection goes to the address that was checked (no second DNS lookup to rebind);
 * - redirects are followed by hand, each hop checked the same way, at most `maxRedirects`;
 * - a byte limit (declared length first, then while reading) and an overall timeout.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { readLimited } from '../common/bytes.ts';
import { EdgeError, ImageError } from '../common/errors.ts';

export interface UrlFetchOptions {
  allowedOrigins: readonly string[];
  /** Local development only: skip the address checks (allow-listed origins still apply). */
  allowPrivateNetworks: boolean;
  maxRedirects: number;
  timeoutMs: number;
  maxBytes: number;
  /** DNS lookup (tests inject one that answers a chosen address). */
  lookup?: typeof dnsLookup;
}

export interface FetchedImage {
  bytes: Buffer;
  contentType: string | undefined;
  /** The URL that answered, after redirects. */
  url: string;
}

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  // IPv4-compatible (deprecated, RFC 4291), with :: and ::1: ::7f00:1 is ::127.0.0.1.
  ['::', 96],
  // IPv4-translated (SIIT, RFC 2765): ::ffff:0:7f00:1.
  ['::ffff:0:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d in any spelling), if it is one. */
function mappedIpv4(address: string): string | undefined {
  // The URL parser canonicalises IPv6: ::ffff:127.0.0.1 and 0:0:0:0:0:ffff:7f00:1 both become ::ffff:7f00:1.
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(canonical);
  if (!hex) return undefined;
  const hi = Number.parseInt(hex[1]!, 16);
  const lo = Number.parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True for addresses a server-side fetch must never reach (see the list above). */
export function isBlockedAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    const v4 = mappedIpv4(bare);
    if (v4 !== undefined) return blocked.check(v4, 'ipv4');
    return blocked.check(bare, 'ipv6');
  }
  return true;
}

function notAllowed(message: string): EdgeError {
  return new EdgeError('URL_NOT_ALLOWED', message);
}

/** Parses and checks a URL against the allow-list; throws URL_NOT_ALLOWED with the reason. */
export function checkUrl(raw: string, allowedOrigins: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw notAllowed(`Expected an absolute http(s) URL but received ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw notAllowed(`Expected an http or https URL but received the scheme ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw notAllowed('Expected a URL without credentials (user:password@) but the URL has them');
  }
  if (allowedOrigins.length === 0) {
    throw notAllowed('URL inputs are disabled: no origin is allow-listed (URL_ALLOWED_ORIGINS is empty)');
  }
  if (!allowedOrigins.includes(url.origin)) {
    throw notAllowed(
      `Expected a URL on one of the allowed origins (${allowedOrigins.join(', ')}) but received ${url.origin}`,
    );
  }
  return url;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A lookup for http.request that refuses hosts resolving to any blocked address. */
function guardedLookup(resolve: typeof dnsLookup, allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean } | number, callback: LookupCallback): void => {
    resolve(hostname, { all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as LookupAddress[];
      const bad = list.find((a) => isBlockedAddress(a.address));
      if (!allowPrivate && (bad || list.length === 0)) {
        const e = notAllowed(
          `Expected ${hostname} to resolve to public addresses only but it resolves to ${bad?.address ?? 'nothing'}`,
        ) as EdgeError & NodeJS.ErrnoException;
        return callback(e, []);
      }
      if (typeof options === 'object' && options.all) return callback(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

interface Hop {
  status: number;
  location: string | undefined;
  contentType: string | undefined;
  bytes: Buffer | undefined;
}

function request(url: URL, options: UrlFetchOptions, signal: AbortSignal): Promise<Hop> {
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) && !options.allowPrivateNetworks && isBlockedAddress(literal)) {
    return Promise.reject(notAllowed(`Expected a public address but the URL names ${literal}`));
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Hop>((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'GET',
        signal,
        lookup: guardedLookup(options.lookup ?? dnsLookup, options.allowPrivateNetworks) as never,
        headers: { accept: 'image/*', 'user-agent': 'mmlq-edge' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const contentType = res.headers['content-type'];
        if (status >= 300 && status < 400) {
          res.resume();
          return resolve({ status, location: res.headers.location, contentType, bytes: undefined });
        }
        if (status !== 200) {
          res.resume();
          return resolve({ status, location: undefined, contentType, bytes: undefined });
        }
        if (contentType && !/^(image\/|application\/octet-stream)/i.test(contentType)) {
          res.resume();
          return reject(
            new EdgeError(
              'UNSUPPORTED_MEDIA_TYPE',
              `Expected an image/* response from ${url.origin} but received ${contentType.split(';')[0]}`,
            ),
          );
        }
        const declared = Number(res.headers['content-length'] ?? 0);
        if (declared > options.maxBytes) {
          res.destroy();
          return reject(tooLarge(options.maxBytes, String(declared)));
        }
        readLimited(res, options.maxBytes, (received) => tooLarge(options.maxBytes, received)).then(
          (bytes) => resolve({ status, location: undefined, contentType, bytes }),
          reject,
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function tooLarge(maxBytes: number, received: string): ImageError {
  return new ImageError(
    'IMAGE_TOO_MANY_BYTES',
    `Expected an image of at most ${maxBytes} bytes but received ${received} bytes`,
  );
}

/** Fetches an image from an allow-listed URL; every failure is a typed error. */
export async function fetchImage(raw: string, options: UrlFetchOptions): Promise<FetchedImage> {
  let url = checkUrl(raw, options.allowedOrigins);
  const signal = AbortSignal.timeout(options.timeoutMs);
  for (let hop = 0; ; hop++) {
    let answer: Hop;
    try {
      answer = await request(url, options, signal);
    } catch (error) {
      if (error instanceof EdgeError || error instanceof ImageError) throw error;
      const cause = (error as { cause?: unknown })?.cause;
      if (cause instanceof EdgeError) throw cause;
      const reason = signal.aborted
        ? `no answer within ${options.timeoutMs} ms`
        : ((error as Error).message ?? String(error));
      throw new EdgeError('URL_FETCH_FAILED', `Could not fetch ${url.origin}${url.pathname}: ${reason}`, {
        cause: error,
      });
    }
    if (answer.status >= 300 && answer.status < 400) {
      if (!answer.location) {
        throw new EdgeError('URL_FETCH_FAILED', `${url.origin} answered ${answer.status} without a Location`);
      }
      if (hop >= options.maxRedirects) {
        throw notAllowed(`Expected at most ${options.maxRedirects} redirects but ${raw} redirects further`);
      }
      url = checkUrl(new URL(answer.location, url).href, options.allowedOrigins);
      continue;
    }
    if (answer.status === 404 || answer.status === 410) {
      throw new ImageError(
        'IMAGE_NOT_FOUND',
        `Expected an image at ${url.href} but the server answered ${answer.status}`,
      );
    }
    if (answer.status !== 200 || !answer.bytes) {
      throw new EdgeError(
        'URL_FETCH_FAILED',
        `Expected 200 from ${url.href} but the server answered ${answer.status}`,
      );
    }
    return { bytes: answer.bytes, contentType: answer.contentType, url: url.href };
  }
}
