// `registry.prune` configuration (validation names the key), the schedule
// inside serve, and the `wharf prune` command line (help, usage errors, dry
// run, --json, summary): in-process, with --help and a usage error through a
// real `wharf` process (arguments in, exit status out).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { ConfigError, configFromObject } from '../../src/config/config.js';
import type { PruneReport } from '../../src/registry/prune/index.js';
import { schedulePrune } from '../../src/registry/prune/schedule.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { pruneCommand } from '../../src/cli/prune.js';
import { runCommand, runWharf } from '../helpers/cli.js';
import { keys, later, pushBlob, pushImage, setTagPushed } from './prune-fixtures.js';

function configError(registry: Record<string, unknown>): string {
  try {
    configFromObject({ registry }, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('registry.prune configuration', () => {
  test('defaults: no schedule, 1 h grace and upload age, no retention', () => {
    const c = configFromObject(null, {});
    assert.deepEqual(c.prune, { intervalSeconds: undefined, graceSeconds: 3600, uploadAgeSeconds: 3600, retention: [] });
  });

  test('all keys, and environment overrides', () => {
    const c = configFromObject(
      {
        registry: {
          prune: {
            interval: 600,
            grace: 120,
            'upload-age': 900,
            retention: [
              { repository: 'ci/**', 'keep-last': 5, 'keep-tags': ['latest', '/^v\\d+$/'] },
              { namespace: 'mirror*', 'delete-untagged-after': 86400 },
            ],
          },
        },
      },
      { WHARF_PRUNE__GRACE: '30' },
    );
    assert.equal(c.prune.intervalSeconds, 600);
    assert.equal(c.prune.graceSeconds, 30);
    assert.equal(c.prune.uploadAgeSeconds, 900);
    assert.deepEqual(c.prune.retention, [
      { namespace: '*', repository: 'ci/**', keepLast: 5, keepTags: ['latest', '/^v\\d+$/'], deleteUntaggedAfter: undefined },
      { namespace: 'mirror*', repository: '**', keepLast: undefined, keepTags: [], deleteUntaggedAfter: 86400 },
    ]);
  });

  test('errors name the key', () => {
    assert.match(configError({ prune: { grace: -1 } }), /^registry\.prune\.grace: /);
    assert.match(configError({ prune: { interval: 'often' } }), /^registry\.prune\.interval: /);
    assert.match(configError({ prune: { uploadage: 1 } }), /^registry\.prune\.uploadage: unknown key/);
    assert.match(
      configError({ prune: { retention: [{ 'keep-tags': ['/(/'] }] } }),
      /^registry\.prune\.retention\[0\]\.keep-tags: invalid pattern/,
    );
    assert.match(
      configError({ prune: { retention: [{ 'keep-last': 2 }, { 'keep-last': -2 }] } }),
      /^registry\.prune\.retention\[1\]\.keep-last: /,
    );
    assert.match(
      configError({ prune: { retention: [{ repository: 'x' }] } }),
      /^registry\.prune\.retention\[0\]\.keep-last: a retention rule needs/,
    );
    assert.match(configError({ prune: { retention: {} } }), /^registry\.prune\.retention: must be a list/);
  });
});

describe("prune on serve's schedule", () => {
  test('runs every interval, logs a summary, and stops', async () => {
    const driver = new MemoryDriver();
    // graceSeconds 0: pushed by a deployment that promises no grace (no "recently used" markers).
    await pushBlob({ driver, ns: 'default', graceSeconds: 0 }, 'app');
    const reports: PruneReport[] = [];
    const logs: string[] = [];
    const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
    // Every half second (the configuration takes whole seconds; the timer is the same).
    const schedule = schedulePrune(driver, 0.5, { graceSeconds: 0, now: later(2000) }, log, (r) => reports.push(r));
    await new Promise((r) => setTimeout(r, 1300)); // 2.6 intervals
    await schedule.stop();
    const runs = reports.length;
    assert.ok(runs >= 1 && runs <= 2, `${runs} runs`);
    assert.equal(reports[0]!.removed.blobs.objects, 1);
    assert.deepEqual(
      logs.filter((l) => l !== 'prune finished'),
      [],
    );
    await new Promise((r) => setTimeout(r, 600)); // 1.2 intervals
    assert.equal(reports.length, runs, 'no run after stop');
  });
});

describe('wharf prune (command line)', () => {
  const run = (args: string[]) => runCommand(pruneCommand, args);

  test('--help, and usage errors exit 2', async () => {
    const h = runWharf(['prune', '--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /Usage: wharf prune \[--config FILE\] \[--dry-run\] \[--json\] \[--upload-age SECONDS\] \[--grace SECONDS\]/);
    assert.equal(runWharf(['prune', '--bogus']).status, 2);
    const g = await run(['--grace', 'soon']);
    assert.equal(g.status, 2);
    assert.match(g.stderr, /--grace must be a whole number of seconds/);
    const main = runWharf(['--help']);
    assert.match(main.stdout, /prune/);
  });

  test('dry run, --json, then the real run against a filesystem store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-prune-cli-'));
    try {
      const root = join(dir, 'data');
      const driver = new FilesystemDriver({ root, fsync: false });
      // Pushed as by a deployment with grace 0, which the runs below use (no "recently used" markers).
      const s = { driver, ns: 'default', graceSeconds: 0 };
      const gone = await pushImage(s, 'app', 'v1');
      const keep = await pushImage(s, 'app', 'v2');
      await setTagPushed(s, 'app', 'v1', 60_000);
      await pushBlob(s, 'other');
      await driver.close();
      const cfg = join(dir, 'wharf.yaml');
      writeFileSync(
        cfg,
        stringify({ registry: { storage: { driver: 'filesystem', root }, prune: { retention: [{ repository: 'app', 'keep-last': 1 }] } } }),
      );
      const before = (await keys(driver, '')).sort();

      const dry = await run(['--config', cfg, '--dry-run', '--grace', '0']);
      assert.equal(dry.status, 0, dry.stderr);
      assert.match(dry.stdout, /would remove tag {6}default\/app:v1 -> sha256:[0-9a-f]{64} \(retention: beyond keep-last 1\)/);
      assert.match(dry.stdout, new RegExp(`would remove manifest default/app@${gone.digest.text} \\(retention: every tag removed`));
      assert.match(dry.stdout, /prune \(dry run\)/);
      assert.match(dry.stdout, /would remove: \d+ objects/);
      assert.deepEqual((await keys(driver, '')).sort(), before);

      const json = await run(['--config', cfg, '--json', '--grace', '0', '--upload-age', '0']);
      assert.equal(json.status, 0, json.stderr);
      const report = JSON.parse(json.stdout) as PruneReport;
      assert.equal(report.dryRun, false);
      assert.equal(report.removed.manifests.objects, 1);
      assert.equal(report.removed.tags, 1);
      assert.equal(report.removed.blobs.objects, 4); // v2's body, config, layer; the stray blob
      assert.equal(report.kept.manifests.objects, 1);
      assert.equal(report.items.manifests[0]!.digest, gone.digest.text);
      assert.match(json.stderr, /^prune: 1 namespace\(s\)/m, 'summary on stderr');
      const after = await keys(driver, '');
      assert.ok(after.some((k) => k.endsWith(keep.config.hex)));
      assert.ok(!after.some((k) => k.endsWith(gone.config.hex)));

      const again = await run(['--config', cfg, '--grace', '0']);
      assert.equal(again.status, 0);
      assert.match(again.stdout, /removed: 0 objects, 0 B/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
