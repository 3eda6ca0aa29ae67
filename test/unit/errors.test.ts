// The error catalogue and how the http layer turns errors into replies:
// every code gets the catalogue's status and default message, overrides and
// headers are carried as given, and storage failures map to client errors
// (a bad key) or a retryable outage — never a 500 with internals.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CATALOGUE, type ErrorCode } from '../../src/errors/catalogue.js';
import { describeError, HttpError } from '../../src/http/errors.js';
import { RegistryError } from '../../src/registry/errors.js';
import { InvalidKeyError, RangeNotSatisfiableError, StorageUnavailableError } from '../../src/storage/errors.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { MemoryDriver } from '../../src/storage/memory.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('error catalogue', () => {
  it('every code has a 4xx/5xx status and a message; the spec codes keep the spec statuses', () => {
    for (const [code, e] of Object.entries(CATALOGUE)) {
      assert.ok(e.status >= 400 && e.status <= 599, code);
      assert.ok(e.message.length > 0, code);
    }
    const spec: Partial<Record<ErrorCode, number>> = {
      BLOB_UNKNOWN: 404,
      BLOB_UPLOAD_INVALID: 400,
      BLOB_UPLOAD_UNKNOWN: 404,
      DIGEST_INVALID: 400,
      MANIFEST_BLOB_UNKNOWN: 400,
      MANIFEST_INVALID: 400,
      MANIFEST_UNKNOWN: 404,
      NAME_INVALID: 400,
      NAME_UNKNOWN: 404,
      SIZE_INVALID: 400,
      UNAUTHORIZED: 401,
      DENIED: 403,
      UNSUPPORTED: 405,
      TOOMANYREQUESTS: 429,
    };
    for (const [code, status] of Object.entries(spec)) assert.equal(CATALOGUE[code as ErrorCode].status, status, code);
  });

  it('a registry error gets its code’s status, and the default message when it gives none', () => {
    for (const code of Object.keys(CATALOGUE) as ErrorCode[]) {
      const r = describeError(new RegistryError(code, undefined, { x: 1 }));
      assert.deepEqual(
        { status: r.status, code: r.code, message: r.message, detail: r.detail },
        { status: CATALOGUE[code].status, code, message: CATALOGUE[code].message, detail: { x: 1 } },
      );
    }
    assert.equal(describeError(new RegistryError('BLOB_UNKNOWN', 'no such blob')).message, 'no such blob');
  });

  it('an http error keeps the catalogue status unless it overrides it, and carries its headers', () => {
    const plain = describeError(new HttpError('UNAUTHORIZED', 'log in', undefined, { headers: { 'WWW-Authenticate': 'Bearer x' } }));
    assert.equal(plain.status, 401);
    assert.deepEqual(plain.headers, { 'WWW-Authenticate': 'Bearer x' });
    assert.equal(plain.internal, false);
    const over = describeError(new HttpError('MANIFEST_INVALID', 'too big', { max: 1 }, { status: 413 }));
    assert.deepEqual([over.status, over.code, over.message], [413, 'MANIFEST_INVALID', 'too big']);
  });

  it('storage errors: a range → 416 RANGE_INVALID, an outage → 503 UNAVAILABLE (internal), anything else → a bare 500', () => {
    const range = describeError(new RangeNotSatisfiableError('a/b', 10));
    assert.deepEqual([range.status, range.code, range.headers], [416, 'RANGE_INVALID', { 'Content-Range': 'bytes */10' }]);
    const down = describeError(new StorageUnavailableError('swift GET answered 503'));
    assert.deepEqual([down.status, down.code, down.internal, down.headers], [503, 'UNAVAILABLE', true, { 'Retry-After': '5' }]);
    assert.doesNotMatch(down.message, /swift/);
    const other = describeError(new Error('secret internals'));
    assert.deepEqual([other.status, other.code, other.message, other.internal], [500, 'UNKNOWN', 'internal server error', true]);
  });

  it('a storage key the drivers refuse is a client error (400 NAME_INVALID) that does not show the key', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wharf-errors-'));
    roots.push(root);
    const drivers = [new MemoryDriver(), new FilesystemDriver({ root })];
    for (const d of drivers) {
      for (const attempt of [
        () => d.put('ns/../../etc/passwd', Buffer.from('x')),
        () => d.get('a//b'),
        () => d.stat('ok\0'),
        () => d.list({ prefix: '../' }),
      ]) {
        const err = await attempt().then(
          () => assert.fail('accepted an invalid key'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof InvalidKeyError, String(err));
        const r = describeError(err);
        assert.deepEqual([r.status, r.code, r.internal, r.detail], [400, 'NAME_INVALID', false, undefined]);
        assert.doesNotMatch(r.message, /passwd|storage key|a\/\/b/);
      }
    }
  });
});
