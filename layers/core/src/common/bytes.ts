/** Reading untrusted bodies into memory without ever holding more than a limit. */

/**
 * Reads a whole stream, failing with `tooMany(received)` as soon as it passes maxBytes (the stream is
 * destroyed then, so the rest is never downloaded).
 */
export async function readLimited(
  stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxBytes: number,
  tooMany: (received: string) => Error,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    total += buf.length;
    if (total > maxBytes) {
      const destroy = (stream as { destroy?: () => void }).destroy;
      if (typeof destroy === 'function') destroy.call(stream);
      throw tooMany(`more than ${total}`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}
