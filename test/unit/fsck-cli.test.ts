// The `wharf fsck` command line against a filesystem store: help, usage and
// configuration errors, the exit status for clean / found / repaired /
// operational errors, text output with what the damage breaks, --json.
// The cases run the command in-process; --help and a usage error go through
// a real `wharf` process (arguments in, exit status out).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { FsckReport } from '../../src/registry/fsck/index.js';
import { layout } from '../../src/registry/layout.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { fsckCommand } from '../../src/cli/fsck.js';
import { runCommand, runWharf } from '../helpers/cli.js';
import { freePort } from '../helpers/wharf.js';
import { blobKey, pushImage } from './prune-fixtures.js';

const run = (args: string[]) => runCommand(fsckCommand, args);

describe('wharf fsck (command line)', () => {
  test('--help; bad usage and bad configuration exit 16', async () => {
    const h = runWharf(['fsck', '--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /Usage: wharf fsck \[--config FILE\] \[--namespace NS\]\.\.\. \[--deep\] \[--repair\] \[--json\]/);
    assert.match(h.stdout, /Exit status/);
    assert.equal(runWharf(['fsck', '--bogus']).status, 16);
    const g = await run(['--grace', 'soon']);
    assert.equal(g.status, 16);
    assert.match(g.stderr, /--grace must be a whole number of seconds/);
    const dir = mkdtempSync(join(tmpdir(), 'wharf-fsck-cli-'));
    try {
      const cfg = join(dir, 'bad.yaml');
      writeFileSync(cfg, stringify({ registry: { storage: { driver: 'nope' } } }));
      const c = await run(['--config', cfg]);
      assert.equal(c.status, 16);
      assert.match(c.stderr, /invalid configuration: registry\.storage\.driver/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const main = runWharf(['--help']);
    assert.match(main.stdout, /fsck/);
  });

  test('clean (0), damage found (4) with what it breaks, repaired (1), clean again; --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-fsck-cli-'));
    try {
      const root = join(dir, 'data');
      const driver = new FilesystemDriver({ root, fsync: false });
      const s = { driver, ns: 'default', graceSeconds: 0 };
      const img = await pushImage(s, 'app', 'v1');
      const cfg = join(dir, 'wharf.yaml');
      writeFileSync(cfg, stringify({ registry: { storage: { driver: 'filesystem', root }, prune: { grace: 0 } } }));

      const clean = await run(['--config', cfg, '--deep']);
      assert.equal(clean.status, 0, clean.stderr + clean.stdout);
      assert.match(clean.stdout, /^fsck --deep: 1 namespace\(s\), 1 repositories, 1 manifests, 1 tags/m);
      assert.match(clean.stdout, /no damage/);

      // A flipped byte in the layer, and a tag pointing nowhere.
      const layer = blobKey(s, img.layers[0]!);
      const b = (await driver.get(layer))!;
      b[0] = b[0]! ^ 1;
      await driver.put(layer, b);
      await driver.put(
        layout.tag('default', 'app', 'lost'),
        Buffer.from(JSON.stringify({ digest: `sha256:${'1'.repeat(64)}`, pushed: 1 })),
      );
      await driver.close();

      const found = await run(['--config', cfg, '--deep']);
      assert.equal(found.status, 4, found.stderr + found.stdout);
      assert.match(found.stdout, new RegExp(`^damage blob-corrupt default ${layer}: bytes hash to`, 'm'));
      assert.match(found.stdout, new RegExp(`^  breaks default/app@${img.digest.text} \\(tags: v1\\)$`, 'm'));
      assert.match(found.stdout, /^damage tag-dangling default\/app default\/repos\/app\/_tags\/lost: tag lost points at manifest/m);
      assert.match(found.stdout, /damage: 2 \(wharf fsck --repair fixes what it can\)/);

      const json = await run(['--config', cfg, '--json']);
      assert.equal(json.status, 4, 'without --deep the flipped byte goes unseen, the tag does not');
      const report = JSON.parse(json.stdout) as FsckReport;
      assert.deepEqual(
        report.findings.map((f) => f.kind),
        ['tag-dangling'],
      );
      assert.match(json.stderr, /^fsck: 1 namespace\(s\)/m, 'summary on stderr');

      const repaired = await run(['--config', cfg, '--repair']);
      assert.equal(repaired.status, 1, repaired.stdout);
      assert.match(repaired.stdout, /^ {2}repaired: tag removed$/m);
      const deep = await run(['--config', cfg, '--deep', '--repair']);
      assert.equal(deep.status, 4 | 1, 'quarantined, but the image needs the layer pushed again');
      assert.match(deep.stdout, /^ {2}repaired: moved to the quarantine/m);
      const after = await run(['--config', cfg]);
      assert.equal(after.status, 4);
      assert.match(after.stdout, /^quarantined default sha256:[0-9a-f]{64} at default\/_quarantine\/.* \(digest mismatch, by fsck, /m);
      assert.match(after.stdout, /^damage blob-missing /m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('storage that cannot be reached: exit 8', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-fsck-cli-'));
    try {
      const cfg = join(dir, 'wharf.yaml');
      const port = await freePort(); // nothing listens there
      writeFileSync(
        cfg,
        stringify({
          registry: {
            storage: {
              driver: 's3',
              endpoint: `http://127.0.0.1:${port}`,
              bucket: 'b',
              region: 'us-east-1',
              'access-key': 'k',
              'secret-key': 's',
              'force-path-style': true,
              timeout: 2,
            },
          },
        }),
      );
      const r = await run(['--config', cfg, '--namespace', 'default']);
      assert.equal(r.status, 8, r.stderr + r.stdout);
      assert.match(r.stdout, /not checked: default default\/blobs\//);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
