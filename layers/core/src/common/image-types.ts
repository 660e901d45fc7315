/**
 * The image types the project scores, in one place: the decoder's format names (model/image.ts), the
 * media types of posted bytes (score-api), and the file suffixes the CLI picks from folders and
 * on-upload scores by default. HEIC/HEIF is absent: sharp's prebuilt libvips cannot decode HEVC.
 */
export const IMAGE_TYPES = [
  { format: 'jpeg', mime: 'image/jpeg', suffixes: ['.jpg', '.jpeg'] },
  { format: 'png', mime: 'image/png', suffixes: ['.png'] },
  { format: 'webp', mime: 'image/webp', suffixes: ['.webp'] },
  { format: 'gif', mime: 'image/gif', suffixes: ['.gif'] },
  { format: 'avif', mime: 'image/avif', suffixes: ['.avif'] },
  { format: 'tiff', mime: 'image/tiff', suffixes: ['.tif', '.tiff'] },
] as const;

export type ImageFormat = (typeof IMAGE_TYPES)[number]['format'];

export const IMAGE_FORMATS: readonly ImageFormat[] = IMAGE_TYPES.map((t) => t.format);

/** Lower-case suffixes with their dot: `.jpg`, `.jpeg`, `.png`, ... */
export const IMAGE_SUFFIXES: readonly string[] = IMAGE_TYPES.flatMap((t) => t.suffixes);

/** The usual suffix (without the dot) of a media type, or undefined for a type we do not score. */
export function suffixOfMime(mime: string): string | undefined {
  return IMAGE_TYPES.find((t) => t.mime === mime)?.suffixes[0]?.slice(1);
}
