// fsck on the memory and filesystem drivers (the same suite runs on Swift and
// S3 in fsck-objectstores.test.ts), and the compact blob-size table it uses.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { DigestMap } from '../../src/registry/prune/digest-set.js';
import { fsckSuite } from './fsck-suite.js';
import { DRIVERS } from './prune-fixtures.js';

describe('the blob-size table (DigestMap)', () => {
  test('set/get through growth, algorithms apart, the all-zero prefix', () => {
    const map = new DigestMap();
    const hex = (i: number) => createHash('sha256').update(String(i)).digest('hex');
    for (let i = 0; i < 50_000; i++) map.set(`sha256:${hex(i)}`, i * 3);
    assert.equal(map.size, 50_000);
    for (let i = 0; i < 50_000; i++) assert.equal(map.get(`sha256:${hex(i)}`), i * 3);
    for (let i = 50_000; i < 60_000; i++) assert.equal(map.get(`sha256:${hex(i)}`), undefined);
    assert.equal(map.get(`sha512:${hex(1)}${hex(1)}`), undefined, 'another algorithm is another digest');
    map.set(`sha256:${hex(7)}`, 1e12);
    assert.equal(map.get(`sha256:${hex(7)}`), 1e12);
    assert.equal(map.size, 50_000);
    map.set(`sha256:${'0'.repeat(64)}`, 5);
    assert.equal(map.get(`sha256:${'0'.repeat(64)}`), 5);
    assert.equal(map.get('garbage'), undefined);
  });
});

for (const dc of DRIVERS) fsckSuite(dc);
