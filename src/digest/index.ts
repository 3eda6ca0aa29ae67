// The digest layer: resumable SHA-256 / SHA-512 whose state can be exported
// after any chunk (a short versioned string, see state.ts) and restored in
// another process — on either engine, since both use the same format.
//
// Engine: the native addon (native/, SHA-NI or portable C) when it is built
// and passes its self-test, else pure TypeScript. WHARF_HASH_ENGINE=typescript
// forces the fallback; WHARF_HASH_ENGINE=native makes a missing addon an error.
import type { HashAlgorithm, ResumableHash } from './hash.js';
import { createNativeHash, loadNative, nativeLoadError, restoreNativeHash, type NativeAddon } from './native.js';
import { Sha256Ts } from './sha256-ts.js';
import { Sha512Ts } from './sha512-ts.js';
import { decodeState, layoutOf } from './state.js';

export type { HashAlgorithm, ResumableHash } from './hash.js';
export { HASH_ALGORITHMS } from './hash.js';
export { HashStateError, STATE_VERSION } from './state.js';

function pickAddon(): NativeAddon | null {
  const want = (process.env['WHARF_HASH_ENGINE'] ?? '').trim().toLowerCase();
  switch (want) {
    case 'typescript':
    case 'ts':
      return null;
    case 'native': {
      const addon = loadNative();
      if (addon === null) throw new Error(`WHARF_HASH_ENGINE=native but ${nativeLoadError() ?? 'the addon is unavailable'}`);
      return addon;
    }
    case '':
    case 'auto':
      return loadNative();
    default:
      throw new Error(`WHARF_HASH_ENGINE must be "native", "typescript" or "auto", got ${JSON.stringify(want)}`);
  }
}

const addon = pickAddon();

/**
 * Which engine serves createHash/restoreHash, for logs and /metrics:
 * "native (SHA-NI)", "native (portable C)" or "typescript". The SHA-NI /
 * portable distinction is about SHA-256; native SHA-512 is always portable C.
 */
export const hashEngine: string = addon === null ? 'typescript' : addon.shaNiAvailable ? 'native (SHA-NI)' : 'native (portable C)';

function createTs(alg: HashAlgorithm, raw?: Uint8Array, total?: number): ResumableHash {
  return alg === 'sha256' ? new Sha256Ts(raw, total) : new Sha512Ts(raw, total);
}

/** A fresh hash. Throws TypeError for an unknown algorithm. */
export function createHash(alg: HashAlgorithm): ResumableHash {
  layoutOf(alg);
  return addon !== null ? createNativeHash(addon, alg) : createTs(alg);
}

/**
 * Resume a hash from exportState() output (from any process and either engine).
 * Throws HashStateError if the state is malformed, of another version, or for
 * another algorithm.
 */
export function restoreHash(alg: HashAlgorithm, state: string): ResumableHash {
  layoutOf(alg);
  if (addon !== null) return restoreNativeHash(addon, alg, state);
  const { raw, total } = decodeState(alg, state);
  return createTs(alg, raw, total);
}
