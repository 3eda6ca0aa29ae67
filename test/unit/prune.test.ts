// Prune rules and safety on the memory and filesystem drivers (the same
// suites run on Swift and S3 in prune-objectstores.test.ts), and the
// retention glob syntax.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { globToRegExp, tagPattern } from '../../src/registry/prune/retention.js';
import { DRIVERS } from './prune-fixtures.js';
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

for (const dc of DRIVERS) {
  pruneRuleSuite(dc);
  pruneSafetySuite(dc);
}
