/** Cold-start configuration and S3 event decoding of the edge functions (no servers needed). */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createdObjects, decodeEventKey, encodeEventKey } from '#core/clients/s3-event.ts';
import { readUploadConfig } from '#core/on-upload/config.ts';
import { ignoreReason } from '#core/on-upload/uploads.ts';
import { readApiConfig } from '#core/score-api/config.ts';
import { readScorerConfig } from '#core/scorer-service/config.ts';
import { readWordPressConfig } from '#core/wp-webhook/config.ts';

describe('configuration', () => {
  it('fails at cold start naming the missing variable', () => {
    expect(() => readApiConfig({ SCORER_FUNCTION_NAME: 'scorer' })).toThrow(
      'Environment variable BUCKET is required',
    );
    expect(() => readUploadConfig({})).toThrow(
      'Environment variable SCORER_FUNCTION_NAME is required (or SCORER_URL for an HTTP scorer)',
    );
  });

  it('rejects malformed values with what was expected', () => {
    const base = { SCORER_FUNCTION_NAME: 's', BUCKET: 'b' };
    expect(() => readApiConfig({ ...base, RESULTS_PREFIX: 'results' })).toThrow(
      'Environment variable RESULTS_PREFIX must be empty or a key prefix ending in "/" (e.g. "uploads/") but is "results"',
    );
    expect(() => readApiConfig({ ...base, SCORER_MAX_ATTEMPTS: '0' })).toThrow(
      'Environment variable SCORER_MAX_ATTEMPTS must be an integer >= 1 but is "0"',
    );
    expect(() => readApiConfig({ ...base, URL_ALLOWED_ORIGINS: 'https://x.example/images' })).toThrow(
      'Environment variable URL_ALLOWED_ORIGINS expects origins like https://images.example.com (no path) but has "https://x.example/images"',
    );
    expect(() => readScorerConfig({ PROVIDER: 'tpu' })).toThrow(
      'Environment variable PROVIDER must be one of cpu, cuda but is "tpu"',
    );
  });

  it('has documented defaults', () => {
    const c = readApiConfig({ SCORER_FUNCTION_NAME: 's', BUCKET: 'media' });
    expect(c).toMatchObject({
      bucket: 'media',
      allowedBuckets: ['media'],
      maxBatchItems: 16,
      store: { resultsPrefix: 'results/', stagingPrefix: 'api-uploads/', deadLetterPrefix: 'dead-letter/' },
      scorer: { functionName: 's', url: undefined, maxAttempts: 3, backoffMs: 200 },
      url: { allowedOrigins: [], allowPrivateNetworks: false, maxRedirects: 3 },
    });
  });
});

describe('S3 events', () => {
  it('decodes keys as S3 encodes them in notifications', async () => {
    const event = JSON.parse(await readFile('test/events/s3-put.json', 'utf8'));
    const [object] = createdObjects(event);
    expect(object).toMatchObject({ bucket: 'BUCKET', key: 'uploads/red flower+1.jpg', etag: 'ETAG' });
    for (const key of ['uploads/a b+c%d.jpg', 'uploads/ünïcode/é.png', 'uploads/(1)&=?.jpg'])
      expect(decodeEventKey(encodeEventKey(key))).toBe(key);
  });

  it('scores by default the suffixes serverless.yml deploys: no HEIC/HEIF, which cannot be decoded', async () => {
    const { uploadSuffixes } = readUploadConfig({ SCORER_FUNCTION_NAME: 's' });
    const deployed = /^\s+uploadSuffixes: (.+)$/m.exec(await readFile('serverless.yml', 'utf8'))![1]!;
    expect(uploadSuffixes).toEqual(deployed.split(','));
    expect(uploadSuffixes).not.toContain('.heic');
    expect(uploadSuffixes).not.toContain('.heif');
  });

  it('ignores keys outside the prefix, under its own prefixes, or with other suffixes', () => {
    const config = readUploadConfig({ SCORER_FUNCTION_NAME: 's', UPLOAD_PREFIX: '' });
    expect(ignoreReason('results/a.jpg.json', config)).toBe("under this service's own prefix results/");
    expect(ignoreReason('notes.txt', config)).toMatch(/^suffix not among \.jpg/);
    expect(ignoreReason('Photo.JPG', config)).toBeUndefined();
  });
});

describe('wp-webhook configuration', () => {
  const base = {
    SCORER_FUNCTION_NAME: 's',
    WP_USER: 'u',
    WP_WEBHOOK_SECRET: 'x'.repeat(32),
    WP_APP_PASSWORD: 'p',
  };
  it('requires an https:// site, except for a local one (private networks allowed)', () => {
    expect(() => readWordPressConfig({ ...base, WP_SITE_URL: 'http://example.com/' })).toThrow(
      'Environment variable WP_SITE_URL must be an https:// URL (the application password is sent with every call) but is "http://example.com/"',
    );
    expect(readWordPressConfig({ ...base, WP_SITE_URL: 'https://example.com/' }).wordpress.siteUrl).toBe(
      'https://example.com/',
    );
    expect(
      readWordPressConfig({
        ...base,
        WP_SITE_URL: 'http://127.0.0.1:8088/',
        URL_ALLOW_PRIVATE_NETWORKS: 'true',
      }).url.allowedOrigins,
    ).toEqual(['http://127.0.0.1:8088']);
  });
});
