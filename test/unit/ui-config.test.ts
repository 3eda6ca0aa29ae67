// `registry.ui`: on by default, `false` (or WHARF_UI=false) turns it off, the
// mapping form sets the storage-use age; anything else stops the start
// with one line naming the key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, configFromObject } from '../../src/config/config.js';

const ui = (registry: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => configFromObject({ registry }, env).ui;

describe('registry.ui', () => {
  it('is on by default, with storage use recounted after 600 s', () => {
    assert.deepEqual(ui({}), { enabled: true, usageMaxAgeSeconds: 600 });
  });

  it('false, "false" or WHARF_UI=false turn it off', () => {
    assert.equal(ui({ ui: false }).enabled, false);
    assert.equal(ui({ ui: 'false' }).enabled, false);
    assert.equal(ui({}, { WHARF_UI: 'false' }).enabled, false);
    assert.equal(ui({ ui: true }).enabled, true);
  });

  it('the mapping form', () => {
    assert.deepEqual(ui({ ui: { enabled: false, 'usage-max-age': 30 } }), { enabled: false, usageMaxAgeSeconds: 30 });
    assert.deepEqual(ui({}, { WHARF_UI__USAGE_MAX_AGE: '45' }), { enabled: true, usageMaxAgeSeconds: 45 });
  });

  it('bad values name the key', () => {
    const bad = (registry: Record<string, unknown>, message: RegExp) =>
      assert.throws(
        () => ui(registry),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    bad({ ui: 'maybe' }, /^registry\.ui: must be true, false or a mapping/);
    bad({ ui: [true] }, /^registry\.ui: must be true, false or a mapping/);
    bad({ ui: { 'usage-max-age': -1 } }, /^registry\.ui\.usage-max-age: must be an integer/);
    bad({ ui: { colour: 'blue' } }, /^registry\.ui\.colour: unknown key/);
  });
});
