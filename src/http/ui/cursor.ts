// Page cursors of the repository list. A page may end on a repository the
// caller may not see (the scan is bounded, see registry/catalog.ts
// browseRepos); its name must not reach the caller, so such a cursor is
// sealed (AES-256-GCM). The key comes from the token signing secret or key,
// which every replica shares, so any replica can open a cursor another one
// sealed; without either (tokens then live in one process only) it is random.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../../config/config.js';
import { RegistryError } from '../../registry/errors.js';

const SEALED = '~';

export interface CursorCodec {
  encode(after: string, visible: boolean): string;
  /** The repository to start after; PAGINATION_NUMBER_INVALID when a sealed cursor does not open. */
  decode(cursor: string): string;
}

function keyMaterial(config: Config): Buffer {
  if (config.secret !== undefined) return Buffer.from(config.secret, 'utf8');
  if (config.auth.tokenKey !== undefined) {
    try {
      return readFileSync(config.auth.tokenKey);
    } catch {
      /* the token service reports an unreadable key at start */
    }
  }
  return randomBytes(32);
}

export function createCursorCodec(config: Config): CursorCodec {
  const key = createHash('sha256').update('wharf ui cursor\0').update(keyMaterial(config)).digest();
  const bad = () => new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid page cursor');
  return {
    encode(after, visible) {
      if (visible) return after;
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(after, 'utf8'), c.final()]);
      return SEALED + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
    },
    decode(cursor) {
      if (!cursor.startsWith(SEALED)) return cursor;
      const raw = Buffer.from(cursor.slice(1), 'base64url');
      if (raw.length < 29 || raw.length > 1024) throw bad();
      try {
        const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        d.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
      } catch {
        throw bad();
      }
    },
  };
}
