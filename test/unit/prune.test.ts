// Prune rules and safety on the memory and filesystem drivers (the same
// suites run on Swift and S3 in prune-objectstores.test.ts), and the
// retention glob syntax.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { DigestSet } from '../../src/registry/prune/digest-set.js';
import { globToRegExp, tagPattern } from '../../src/registry/prune/retention.js';
import { DRIVERS } from './prune-fixtures.js';
import { pruneGraceSuite } from './prune-grace.js';
import { pruneRuleSuite } from './prune-rules.js';
import { pruneSafetySuite } from './prune-safety.js';

describe('retention globs and tag patterns', () => {
  test('globs: * within a component, ** across, ? one character', () => {
    assert.ok(globToRegExp('*').test('default'));
    assert.ok(!globToRegExp('*').test('a/b'));
    assert.ok(globToRegExp('**').test('a/b/c'));
    assert.ok(globToRegExp('ci/**').test('ci/x/y'));
    assert.ok(globToRegExp('ci/**/tmp').test('ci/tmp'));
    assert.ok(globToRegExp('ci/**/tmp').test('ci/a/b/tmp'));
    assert.ok(!globToRegExp('ci/*').test('ci/a/b'));
    assert.ok(globToRegExp('app-?').test('app-1'));
    assert.ok(!globToRegExp('a.b').test('axb'));
  });
  test('tag patterns: glob or /regex/', () => {
    assert.ok(tagPattern('v*').test('v1.2'));
    assert.ok(!tagPattern('v*').test('latest'));
    assert.ok(tagPattern('/^release-\\d+$/').test('release-12'));
    assert.ok(!tagPattern('/^release-\\d+$/').test('release-x'));
    assert.throws(() => tagPattern('/(/'), SyntaxError);
  });
});

describe('the mark (DigestSet)', () => {
  test('add/has through growth, algorithms apart, the all-zero prefix', () => {
    const set = new DigestSet();
    const hex = (i: number) => createHash('sha256').update(String(i)).digest('hex');
    for (let i = 0; i < 50_000; i++) set.add(`sha256:${hex(i)}`);
    assert.equal(set.size, 50_000);
    for (let i = 0; i < 50_000; i++) assert.ok(set.has(`sha256:${hex(i)}`));
    let falsePositives = 0;
    for (let i = 50_000; i < 100_000; i++) if (set.has(`sha256:${hex(i)}`)) falsePositives++;
    assert.equal(falsePositives, 0);
    assert.ok(!set.has(`sha512:${hex(1)}${hex(1)}`), 'another algorithm is another digest');
    set.add(`sha256:${'0'.repeat(64)}`);
    assert.ok(set.has(`sha256:${'0'.repeat(64)}`));
    set.add(`sha256:${hex(1)}`);
    assert.equal(set.size, 50_001);
    assert.ok(!set.has('garbage'));
  });
});

for (const dc of DRIVERS) {
  pruneRuleSuite(dc);
  pruneGraceSuite(dc);
  pruneSafetySuite(dc);
}
