// Reading what a store hands back, and naming bytes by their hash: how the
// store tests check that what comes out is what went in.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** The whole of a stream, as one buffer. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** The SHA-256 of `b`, in hex. */
export function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
