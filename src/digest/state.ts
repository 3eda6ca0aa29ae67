// The exported hash state: one format for every engine (native addon and
// TypeScript), so a state saved by one process/engine resumes in any other.
//
// Format, version 1 — a plain ASCII string, safe to store in JSON:
//
//     "v1:<alg>:<base64>"            e.g. "v1:sha256:aglm...AAAAAAAAAAA="
//
// <alg> is "sha256" or "sha512"; <base64> is standard base64 (RFC 4648 §4,
// with padding) of the raw state:
//
//   sha256:  H0..H7   8 × uint32, big-endian                    32 bytes
//            total    bytes fed so far, uint64 big-endian         8 bytes
//            pending  the (total mod 64) bytes of the unfinished block
//            → 40..103 raw bytes
//   sha512:  H0..H7   8 × uint64, big-endian                    64 bytes
//            total    bytes fed so far, uint128 big-endian       16 bytes
//            pending  the (total mod 128) bytes of the unfinished block
//            → 80..207 raw bytes
//
// "total" counts bytes (not bits). The pending length is implied by total and
// must match it exactly. Restoring rejects anything else (other version, other
// algorithm, bad base64, wrong size, total beyond 2^53-1) with a HashStateError.
//
// The native addon keeps its live state in exactly this layout (header +
// a full-block pending area), so exporting there is a copy of a prefix.
import type { HashAlgorithm } from './hash.js';

export const STATE_VERSION = 'v1';

/** Thrown when a saved hash state cannot be restored. */
export class HashStateError extends Error {
  override name = 'HashStateError';
}

export interface Layout {
  /** Block size in bytes (64 / 128). */
  readonly block: number;
  /** Size of H in bytes (32 / 64). */
  readonly hBytes: number;
  /** Size of the total-length field in bytes (8 / 16). */
  readonly lenBytes: number;
  /** hBytes + lenBytes: where the pending bytes start. */
  readonly header: number;
  /** Fixed size of a native state buffer: header + block. */
  readonly full: number;
}

export const LAYOUTS: Readonly<Record<HashAlgorithm, Layout>> = {
  sha256: { block: 64, hBytes: 32, lenBytes: 8, header: 40, full: 104 },
  sha512: { block: 128, hBytes: 64, lenBytes: 16, header: 80, full: 208 },
};

export function layoutOf(alg: HashAlgorithm): Layout {
  if (typeof alg !== 'string' || !Object.hasOwn(LAYOUTS, alg)) {
    throw new TypeError(`unsupported hash algorithm: ${JSON.stringify(alg)}`);
  }
  return LAYOUTS[alg];
}

const TWO32 = 4294967296;
const MAX_STATE_CHARS = 400; // sha512 worst case is 276
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Wrap raw state bytes (header + pending) into the versioned string. */
export function encodeState(alg: HashAlgorithm, raw: Uint8Array): string {
  const b64 = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return `${STATE_VERSION}:${alg}:${b64}`;
}

/** Write `total` into the length field of a raw state (big-endian). */
export function writeTotal(raw: Uint8Array, l: Layout, total: number): void {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = l.hBytes; i < l.header - 8; i++) raw[i] = 0;
  dv.setUint32(l.header - 8, Math.floor(total / TWO32));
  dv.setUint32(l.header - 4, total >>> 0);
}

/** Read the length field of a raw state; throws if it exceeds 2^53-1. */
export function readTotal(raw: Uint8Array, l: Layout): number {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = l.hBytes; i < l.header - 8; i++) {
    if (raw[i] !== 0) throw new HashStateError('hash state: total length exceeds 2^53-1 bytes');
  }
  const hi = dv.getUint32(l.header - 8);
  const lo = dv.getUint32(l.header - 4);
  if (hi > 0x1fffff) throw new HashStateError('hash state: total length exceeds 2^53-1 bytes');
  return hi * TWO32 + lo;
}

export interface DecodedState {
  /** header + pending bytes (a fresh copy). */
  readonly raw: Uint8Array;
  /** Total bytes fed before the export. */
  readonly total: number;
}

/** Parse and validate a versioned state string for `alg`. Never returns garbage. */
export function decodeState(alg: HashAlgorithm, state: string): DecodedState {
  const l = layoutOf(alg);
  if (typeof state !== 'string') {
    throw new HashStateError(`hash state must be a string, got ${state === null ? 'null' : typeof state}`);
  }
  if (state.length > MAX_STATE_CHARS) {
    throw new HashStateError(`hash state too long (${state.length} chars) for ${alg}`);
  }
  const parts = state.split(':');
  if (parts.length !== 3) {
    throw new HashStateError(`malformed hash state: expected "${STATE_VERSION}:<alg>:<base64>"`);
  }
  const [version, stateAlg, b64] = parts as [string, string, string];
  if (version !== STATE_VERSION) {
    throw new HashStateError(`unsupported hash state version ${JSON.stringify(version.slice(0, 16))} (this build reads ${STATE_VERSION})`);
  }
  if (stateAlg !== alg) {
    throw new HashStateError(`hash state is for ${JSON.stringify(stateAlg.slice(0, 16))}, expected ${alg}`);
  }
  if (b64.length % 4 !== 0 || !BASE64_RE.test(b64)) {
    throw new HashStateError('malformed hash state: payload is not canonical base64');
  }
  const buf = Buffer.from(b64, 'base64');
  if (buf.toString('base64') !== b64) {
    throw new HashStateError('malformed hash state: payload is not canonical base64');
  }
  if (buf.length < l.header || buf.length >= l.header + l.block) {
    throw new HashStateError(`malformed ${alg} hash state: ${buf.length} bytes, expected ${l.header}..${l.header + l.block - 1}`);
  }
  const raw = new Uint8Array(buf.length);
  raw.set(buf);
  const total = readTotal(raw, l);
  if (total % l.block !== raw.length - l.header) {
    throw new HashStateError(
      `inconsistent ${alg} hash state: ${raw.length - l.header} pending bytes but total ${total} implies ${total % l.block}`,
    );
  }
  return { raw, total };
}
