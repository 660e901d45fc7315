/**
 * A corpus of hostile and odd-but-valid images, generated at test time (nothing binary is committed),
 * each with the outcome every entry point (CLI, HTTP API, S3 uploads) must give: scored with a format, or
 * refused with one exact error code. docs/SECURITY.md ("Untrusted images") lists the same cases.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import type { CoreErrorCode } from '#core/common/errors.ts';
import { avif, pattern, patternJpeg, pngHeaderOnly, solid } from './images.ts';

export type Expected = { ok: true; format: string } | { ok: false; code: CoreErrorCode };

export interface CorpusCase {
  /** File name: the CLI's argument and the last part of the S3 key. */
  name: string;
  kind: 'hostile' | 'odd';
  /** What the file is, in a few words. */
  what: string;
  bytes: Buffer;
  /** Where the file was written. */
  path: string;
  /** What the scorer answers, whichever way the bytes reach it. */
  expected: Expected;
  /** When the HTTP API refuses posted bytes itself, before the scorer (its 4 MiB body limit). */
  postedBytes?: { status: number; code: string };
  /** on-upload ignores the key (its suffix is not an image's), so the S3 path writes no result. */
  uploadIgnored?: true;
}

export interface CorpusOptions {
  /** An origin the SVG case points at (a local server that records requests): nothing may reach it. */
  probeOrigin: string;
  /** A file the SVG case's external entity and XInclude name: nothing may read it. */
  secretFile: string;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** Inserts chunks right after IHDR (signature 8 bytes + IHDR 25 bytes). */
function withChunks(png: Buffer, chunks: Buffer[]): Buffer {
  return Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);
}

/**
 * A real decompression bomb: every IDAT byte present and valid, 1-bit grey, width x height pixels that
 * deflate to a few kilobytes per megapixel.
 */
function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // 1-bit greyscale
  const row = 1 + Math.ceil(width / 8); // filter byte + packed pixels, all zero
  const idat = deflateSync(Buffer.alloc(row * height), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A valid one-file ZIP (stored, no compression): appended to an image it makes a polyglot. */
export function zipOf(name: string, content: Buffer): Buffer {
  const fileName = Buffer.from(name, 'utf8');
  const crc = crc32(content);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(content.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(content.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const localSize = local.length + fileName.length + content.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(localSize, 16); // offset of the central directory from the start of the zip
  return Buffer.concat([local, fileName, content, central, fileName, end]);
}

/** An SVG that would read a local file (XXE, XInclude) and fetch URLs (image, CSS, use) if rendered. */
export function hostileSvg({ probeOrigin, secretFile }: CorpusOptions): Buffer {
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg [
  <!ENTITY xxe SYSTEM "file://${secretFile}">
  <!ENTITY remote SYSTEM "${probeOrigin}/entity">
]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:xi="http://www.w3.org/2001/XInclude" width="64" height="64">
  <style>@import url("${probeOrigin}/style.css");</style>
  <image href="http://169.254.169.254/latest/meta-data/iam/security-credentials/" width="64" height="64"/>
  <image xlink:href="${probeOrigin}/image.png" width="64" height="64"/>
  <use href="${probeOrigin}/sprite.svg#a"/>
  <text x="0" y="20">&xxe;&remote;</text>
  <text x="0" y="40"><xi:include href="file://${secretFile}" parse="text"/></text>
</svg>
`);
}

const NAMES = new Set<string>();

/** Builds every case and writes it under `dir`. Deterministic; about a second on one core. */
export async function buildCorpus(dir: string, options: CorpusOptions): Promise<CorpusCase[]> {
  NAMES.clear();
  const photo = await patternJpeg(96, 64);
  const cases: Omit<CorpusCase, 'path'>[] = [
    // Hostile
    {
      name: 'empty.jpg',
      kind: 'hostile',
      what: '0 bytes',
      bytes: Buffer.alloc(0),
      expected: err('IMAGE_EMPTY'),
    },
    {
      name: 'truncated.jpg',
      kind: 'hostile',
      what: 'a JPEG cut in half',
      bytes: await halfOf(patternJpeg(256, 256)),
      expected: err('IMAGE_CORRUPT'),
    },
    {
      name: 'page.jpg',
      kind: 'hostile',
      what: 'an HTML page named .jpg',
      bytes: Buffer.from('<!doctype html><html><body><img src="x" onerror="alert(1)"></body></html>\n'),
      expected: err('IMAGE_UNSUPPORTED_FORMAT'),
    },
    {
      name: 'notes.png',
      kind: 'hostile',
      what: 'plain text named .png',
      bytes: Buffer.from('just some text, not an image\n'.repeat(20)),
      expected: err('IMAGE_UNSUPPORTED_FORMAT'),
    },
    {
      name: 'bomb-header.png',
      kind: 'hostile',
      what: 'PNG header claiming 100000x100000, no data',
      bytes: pngHeaderOnly(100_000, 100_000),
      expected: err('IMAGE_TOO_MANY_PIXELS'),
    },
    {
      name: 'bomb-deflate.png',
      kind: 'hostile',
      what: 'complete 20000x20000 PNG deflating to a few kB',
      bytes: pngBomb(20_000, 20_000),
      expected: err('IMAGE_TOO_MANY_PIXELS'),
    },
    {
      name: 'xxe-ssrf.svg',
      kind: 'hostile',
      what: 'SVG with file/HTTP entities, XInclude, external hrefs',
      bytes: hostileSvg(options),
      expected: err('IMAGE_UNSUPPORTED_FORMAT'),
      uploadIgnored: true,
    },
    {
      name: 'xxe-ssrf-svg.png',
      kind: 'hostile',
      what: 'the same SVG named .png',
      bytes: hostileSvg(options),
      expected: err('IMAGE_UNSUPPORTED_FORMAT'),
    },
    {
      name: 'ppm.png',
      kind: 'hostile',
      what: 'a PPM (a libvips format we do not accept) named .png',
      bytes: Buffer.concat([Buffer.from('P6\n32 32\n255\n'), Buffer.alloc(32 * 32 * 3, 200)]),
      expected: err('IMAGE_UNSUPPORTED_FORMAT'),
    },
    {
      name: 'polyglot-zip.jpg',
      kind: 'hostile',
      what: 'valid JPEG with a ZIP appended (JPEG+ZIP polyglot)',
      bytes: Buffer.concat([photo, zipOf('payload.html', Buffer.from('<script>alert(1)</script>'))]),
      expected: ok('jpeg'),
    },
    {
      name: 'gifar.gif',
      kind: 'hostile',
      what: 'valid GIF with a JAR (ZIP + manifest) appended (GIFAR)',
      bytes: Buffer.concat([
        await solid(48, 48, { r: 20, g: 120, b: 200 }).then((png) => sharp(png).gif().toBuffer()),
        zipOf('META-INF/MANIFEST.MF', Buffer.from('Manifest-Version: 1.0\nMain-Class: Evil\n')),
      ]),
      expected: ok('gif'),
    },
    {
      name: 'exif-5mb.png',
      kind: 'hostile',
      what: 'valid PNG with a 5 MB eXIf chunk',
      bytes: withChunks(await solid(48, 48, { r: 90, g: 90, b: 90 }), [
        chunk('eXIf', bigExif(5 * 1024 * 1024)),
      ]),
      expected: ok('png'),
      postedBytes: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
    },
    {
      name: 'itxt-3mb.png',
      kind: 'hostile',
      what: 'valid PNG with a 3 MB iTXt (XMP) chunk',
      bytes: withChunks(await solid(48, 48, { r: 90, g: 90, b: 90 }), [
        chunk('iTXt', bigXmp(3 * 1024 * 1024)),
      ]),
      expected: ok('png'),
    },
    // Odd: valid, scored (the last one too small to score)
    {
      name: 'cmyk.jpg',
      kind: 'odd',
      what: 'CMYK JPEG',
      bytes: await raw(96, 64).toColourspace('cmyk').jpeg().toBuffer(),
      expected: ok('jpeg'),
    },
    {
      name: 'deep.png',
      kind: 'odd',
      what: '16-bit RGB PNG',
      bytes: await raw(96, 64).toColourspace('rgb16').png().toBuffer(),
      expected: ok('png'),
    },
    {
      name: 'deep.tif',
      kind: 'odd',
      what: '16-bit RGB TIFF',
      bytes: await raw(96, 64).toColourspace('rgb16').tiff().toBuffer(),
      expected: ok('tiff'),
    },
    {
      name: 'grey.jpg',
      kind: 'odd',
      what: 'greyscale JPEG',
      bytes: await raw(96, 64).greyscale().jpeg().toBuffer(),
      expected: ok('jpeg'),
    },
    {
      name: 'rgba.png',
      kind: 'odd',
      what: 'RGBA PNG, half transparent',
      bytes: await sharp({
        create: { width: 64, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } },
      })
        .png()
        .toBuffer(),
      expected: ok('png'),
    },
    {
      name: 'animated.gif',
      kind: 'odd',
      what: 'animated GIF, 3 frames',
      bytes: await animated(64, 48, 3)
        .gif({ loop: 0, delay: [100, 100, 100] })
        .toBuffer(),
      expected: ok('gif'),
    },
    {
      name: 'animated.webp',
      kind: 'odd',
      what: 'animated WebP, 3 frames',
      bytes: await animated(64, 48, 3)
        .webp({ loop: 0, delay: [100, 100, 100] })
        .toBuffer(),
      expected: ok('webp'),
    },
    {
      name: 'photo.avif',
      kind: 'odd',
      what: 'AVIF (AV1 HEIF)',
      bytes: await avif(64, 48),
      expected: ok('avif'),
    },
    {
      name: 'panorama.jpg',
      kind: 'odd',
      what: '12000x800 panorama',
      bytes: await raw(1200, 80).resize(12_000, 800).jpeg({ quality: 70 }).toBuffer(),
      expected: ok('jpeg'),
    },
    {
      name: 'rotated.jpg',
      kind: 'odd',
      what: 'JPEG with EXIF orientation 6',
      bytes: await sharp(photo).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
      expected: ok('jpeg'),
    },
    {
      name: 'tiny.png',
      kind: 'odd',
      what: 'an 8x8 PNG (below the 16 px minimum side)',
      bytes: await solid(8, 8, { r: 1, g: 2, b: 3 }),
      expected: err('IMAGE_TOO_SMALL'),
    },
  ];
  const out: CorpusCase[] = [];
  for (const c of cases) {
    if (NAMES.has(c.name)) throw new Error(`Corpus case ${c.name} is defined twice`);
    NAMES.add(c.name);
    const path = join(dir, c.name);
    await writeFile(path, c.bytes);
    out.push({ ...c, path });
  }
  return out;
}

function ok(format: string): Expected {
  return { ok: true, format };
}

function err(code: CoreErrorCode): Expected {
  return { ok: false, code };
}

async function halfOf(bytes: Promise<Buffer>): Promise<Buffer> {
  const b = await bytes;
  return b.subarray(0, Math.floor(b.length / 2));
}

/** The photo-like test pattern as a sharp pipeline. */
function raw(width: number, height: number): Sharp {
  return sharp(pattern(width, height), { raw: { width, height, channels: 3 } });
}

/** `frames` frames of width x height, each a different shade. */
function animated(width: number, height: number, frames: number): Sharp {
  const data = Buffer.alloc(width * height * frames * 3);
  for (let f = 0; f < frames; f++)
    data.fill(40 + 80 * f, f * width * height * 3, (f + 1) * width * height * 3);
  return sharp(data, { raw: { width, height: height * frames, channels: 3, pageHeight: height } });
}

/** A big-endian TIFF header with an empty IFD0, then `size` bytes of padding: well-formed, huge EXIF. */
function bigExif(size: number): Buffer {
  const head = Buffer.from([
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  ]);
  return Buffer.concat([head, Buffer.alloc(size - head.length, 0x41)]);
}

/** An iTXt chunk body: keyword XML:com.adobe.xmp, uncompressed, `size` bytes of XMP. */
function bigXmp(size: number): Buffer {
  const prefix = Buffer.from('XML:com.adobe.xmp\0\0\0\0\0', 'latin1');
  const open = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><!-- ';
  const close = ' --></x:xmpmeta>';
  const filler = 'A'.repeat(size - prefix.length - open.length - close.length);
  return Buffer.concat([prefix, Buffer.from(open + filler + close, 'utf8')]);
}
