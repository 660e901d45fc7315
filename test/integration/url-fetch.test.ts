/**
 * SSRF-safe URL fetching against real loopback servers: allow-listed origins only, no private or
 * link-local addresses (checked on every resolved address, before connecting), redirects re-checked.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUrl, fetchImage, isBlockedAddress, type UrlFetchOptions } from '#core/clients/safe-fetch.ts';
import { solid } from '../helpers/images.ts';

let server: Server;
let origin: string;
let png: Buffer;

const local = (extra: Partial<UrlFetchOptions> = {}): UrlFetchOptions => ({
  allowedOrigins: [origin],
  allowPrivateNetworks: true,
  maxRedirects: 2,
  timeoutMs: 5000,
  maxBytes: 1024 * 1024,
  ...extra,
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (e: { code?: string }) => e.code ?? 'no code',
  );
}

beforeAll(async () => {
  png = await solid(20, 20, { r: 9, g: 9, b: 9 });
  server = createServer((req, res) => {
    const redirect = (to: string) => res.writeHead(302, { location: to }).end();
    if (req.url === '/a.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    else if (req.url === '/page') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
    else if (req.url === '/hop') redirect('/a.png');
    else if (req.url === '/loop') redirect('/loop');
    else if (req.url === '/away') redirect('http://metadata.example/latest');
    else if (req.url === '/big')
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '99999999' }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('URL fetch', () => {
  it('classifies private, loopback, link-local and mapped addresses as blocked', () => {
    for (const a of [
      '127.0.0.1',
      '10.0.0.8',
      '172.20.1.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
    ])
      expect([a, isBlockedAddress(a)]).toEqual([a, true]);
    for (const a of [
      '::1',
      'fe80::1',
      'fd12::1',
      '::ffff:127.0.0.1',
      '0:0:0:0:0:ffff:a9fe:a9fe',
      '64:ff9b::a00:1',
    ])
      expect([a, isBlockedAddress(a)]).toEqual([a, true]);
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      expect([a, isBlockedAddress(a)]).toEqual([a, false]);
  });

  it('blocks every IPv6 form that embeds an IPv4 address: compatible, mapped, translated, NAT64, 6to4', () => {
    for (const a of [
      '::7f00:1', // IPv4-compatible ::/96 (deprecated): ::127.0.0.1
      '::127.0.0.1',
      '::a9fe:a9fe', // ::169.254.169.254, the metadata service
      '::a00:1',
      '::8.8.8.8', // the whole deprecated range, public or not
      '::ffff:7f00:1', // IPv4-mapped
      '::ffff:a9fe:a9fe',
      '::ffff:0:7f00:1', // IPv4-translated ::ffff:0:0:0/96 (SIIT)
      '::ffff:0:127.0.0.1',
      '::ffff:0:a9fe:a9fe',
      '0:0:0:0:ffff:0:a00:1',
      '64:ff9b::7f00:1', // NAT64 well-known prefix with a private IPv4
      '64:ff9b::169.254.169.254',
      '64:ff9b::c0a8:101',
      '64:ff9b:1::a00:1', // NAT64 local-use prefix
      '2002:7f00:1::1', // 6to4 with 127.0.0.1
      '2002:a9fe:a9fe::', // 6to4 with 169.254.169.254
      '2002:c0a8:101:1::1', // 6to4 with 192.168.1.1
      '[::ffff:127.0.0.1]', // as a URL host
      'fe80::1%eth0', // with a zone
    ])
      expect([a, isBlockedAddress(a)]).toEqual([a, true]);
  });

  it('refuses loopback in every URL host spelling, as the URL parser normalises it, before connecting', async () => {
    const spellings: [string, string][] = [
      ['http://[::ffff:127.0.0.1]/a.png', '::ffff:7f00:1'],
      ['http://[::ffff:7f00:1]/a.png', '::ffff:7f00:1'],
      ['http://[::127.0.0.1]/a.png', '::7f00:1'],
      ['http://[::ffff:0:127.0.0.1]/a.png', '::ffff:0:7f00:1'],
      ['http://[64:ff9b::127.0.0.1]/a.png', '64:ff9b::7f00:1'],
      ['http://[2002:7f00:1::1]/a.png', '2002:7f00:1::1'],
      ['http://2130706433/a.png', '127.0.0.1'], // decimal
      ['http://0x7f.1/a.png', '127.0.0.1'], // hex, short form
      ['http://0x7f000001/a.png', '127.0.0.1'],
      ['http://017700000001/a.png', '127.0.0.1'], // octal
      ['http://127.1/a.png', '127.0.0.1'],
      ['http://0/a.png', '0.0.0.0'],
    ];
    for (const [raw, literal] of spellings) {
      const url = new URL(raw);
      expect([raw, url.hostname.replace(/^\[|\]$/g, '')]).toEqual([raw, literal]);
      // Even with the origin allow-listed (as normalised), the address check refuses it.
      const error = await fetchImage(raw, {
        ...local({ allowedOrigins: [url.origin], allowPrivateNetworks: false }),
        timeoutMs: 1000,
      }).catch((e: Error) => e);
      expect([raw, (error as { code?: string }).code, (error as Error).message]).toEqual([
        raw,
        'URL_NOT_ALLOWED',
        `Expected a public address but the URL names ${literal}`,
      ]);
    }
  });

  it('accepts only allow-listed origins, without credentials', () => {
    expect(() => checkUrl('https://images.example.com/a.jpg', [])).toThrow(
      'URL inputs are disabled: no origin is allow-listed (URL_ALLOWED_ORIGINS is empty)',
    );
    expect(() => checkUrl('https://evil.example/a.jpg', ['https://images.example.com'])).toThrow(
      'Expected a URL on one of the allowed origins (https://images.example.com) but received https://evil.example',
    );
    expect(() => checkUrl('https://u:p@images.example.com/a.jpg', ['https://images.example.com'])).toThrow(
      'Expected a URL without credentials',
    );
    expect(() => checkUrl('file:///etc/passwd', ['https://images.example.com'])).toThrow(
      'Expected an http or https URL but received the scheme file:',
    );
  });

  it('refuses an allow-listed loopback origin unless private networks are allowed (local only)', async () => {
    expect(await codeOf(fetchImage(`${origin}/a.png`, local({ allowPrivateNetworks: false })))).toBe(
      'URL_NOT_ALLOWED',
    );
    const fetched = await fetchImage(`${origin}/a.png`, local());
    expect(fetched.bytes.equals(png)).toBe(true);
  });

  it('refuses a host that resolves to a link-local address before connecting', async () => {
    const lookup = ((
      _h: string,
      _o: unknown,
      cb: (e: null, a: { address: string; family: number }[]) => void,
    ) => cb(null, [{ address: '169.254.169.254', family: 4 }])) as never;
    const error = await fetchImage('http://metadata.example/latest', {
      ...local({ allowedOrigins: ['http://metadata.example'], allowPrivateNetworks: false }),
      lookup,
    }).catch((e: Error) => e);
    expect((error as { code?: string }).code).toBe('URL_NOT_ALLOWED');
    expect((error as Error).message).toBe(
      'Expected metadata.example to resolve to public addresses only but it resolves to 169.254.169.254',
    );
    // The same address in an IPv6 spelling (an AAAA record) is refused the same way.
    const aaaa = ((
      _h: string,
      _o: unknown,
      cb: (e: null, a: { address: string; family: number }[]) => void,
    ) => cb(null, [{ address: '::a9fe:a9fe', family: 6 }])) as never;
    const again = await fetchImage('http://metadata.example/latest', {
      ...local({ allowedOrigins: ['http://metadata.example'], allowPrivateNetworks: false }),
      lookup: aaaa,
    }).catch((e: Error) => e);
    expect((again as Error).message).toBe(
      'Expected metadata.example to resolve to public addresses only but it resolves to ::a9fe:a9fe',
    );
  });

  it('follows redirects within the allow-list, and refuses ones that leave it or loop', async () => {
    expect((await fetchImage(`${origin}/hop`, local())).url).toBe(`${origin}/a.png`);
    expect(await codeOf(fetchImage(`${origin}/away`, local()))).toBe('URL_NOT_ALLOWED');
    expect(await codeOf(fetchImage(`${origin}/loop`, local()))).toBe('URL_NOT_ALLOWED');
  });

  it('answers typed errors for missing, non-image and oversized responses', async () => {
    expect(await codeOf(fetchImage(`${origin}/nothing.png`, local()))).toBe('IMAGE_NOT_FOUND');
    expect(await codeOf(fetchImage(`${origin}/page`, local()))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await codeOf(fetchImage(`${origin}/big`, local()))).toBe('IMAGE_TOO_MANY_BYTES');
  });
});
