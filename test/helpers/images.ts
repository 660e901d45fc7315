/**
 * Test images made with sharp at test time (deterministic), plus hand-built malformed files.
 */
import sharp from 'sharp';

export type Rgb = { r: number; g: number; b: number };

export function solid(
  width: number,
  height: number,
  colour: Rgb,
  format: 'png' | 'jpeg' = 'png',
): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: colour } });
  return (format === 'png' ? img.png() : img.jpeg({ quality: 95 })).toBuffer();
}

/** Left half `left`, right half `right`: orientation and crop become visible in the pixels. */
export async function halves(width: number, height: number, left: Rgb, right: Rgb): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = x < width / 2 ? left : right;
      data.set([c.r, c.g, c.b], (y * width + x) * 3);
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** A smooth photo-like test pattern (gradients + rings). */
export function pattern(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const r = Math.hypot(x - width / 2, y - height / 2);
      data[i] = Math.round((255 * x) / (width - 1));
      data[i + 1] = Math.round((255 * y) / (height - 1));
      data[i + 2] = Math.round(127.5 + 127.5 * Math.sin(r / 6));
    }
  }
  return data;
}

export function patternJpeg(width: number, height: number, quality = 92): Promise<Buffer> {
  return sharp(pattern(width, height), { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG whose header claims width x height but holds almost no data: a decompression bomb's shape. */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A small AVIF (AV1-coded HEIF): what sharp's prebuilt libvips can decode. */
export function avif(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 20 } } })
    .avif()
    .toBuffer();
}

/**
 * A HEIF container whose brands say HEVC (ftyp heic/heix), built from an AVIF because sharp cannot write
 * HEVC: sharp's metadata() reads it as format heif with compression hevc, as it reads an iPhone photo.
 */
export async function heicBranded(width: number, height: number): Promise<Buffer> {
  const out = Buffer.from(await avif(width, height));
  const brands: [string, string][] = [
    ['avif', 'heic'],
    ['miaf', 'heix'],
  ];
  for (const [from, to] of brands) {
    for (let i = out.indexOf(from); i >= 0 && i < 64; i = out.indexOf(from, i + 4))
      out.write(to, i, 'latin1');
  }
  return out;
}

/** Just an ftyp box naming HEIC, then junk: libheif cannot even parse the header. */
export function heicHeaderOnly(): Buffer {
  return Buffer.concat([
    Buffer.from([0, 0, 0, 0x18]),
    Buffer.from('ftypheic', 'latin1'),
    Buffer.alloc(4),
    Buffer.from('mif1heic', 'latin1'),
    Buffer.alloc(200, 7),
  ]);
}
