// `wharf promote` on a filesystem store, no server: an image and an index are
// promoted (hard links: the same inodes), --json prints what the HTTP API
// answers, and bad usage or a missing source exits non-zero with a message
// and nothing written in the target. The cases run the command in-process;
// --help and a usage error go through a real `wharf` process.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseImageRef, promoteCommand } from '../../src/cli/promote.js';
import { layout } from '../../src/registry/layout.js';
import { getManifest } from '../../src/registry/manifests.js';
import type { Scope } from '../../src/registry/scope.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { runCommand, runWharf } from '../helpers/cli.js';
import { pushImage, pushIndex } from './prune-fixtures.js';

const wharf = (args: string[]) => runCommand(promoteCommand, args);

describe('wharf promote', () => {
  let dir: string;
  let cfg: string;
  let driver: FilesystemDriver;
  let src: Scope;
  let dst: Scope;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-promote-cli-'));
    cfg = join(dir, 'wharf.yaml');
    writeFileSync(cfg, stringify({ registry: { storage: { driver: 'filesystem', root: join(dir, 'data') } } }));
    driver = new FilesystemDriver({ root: join(dir, 'data') });
    src = { driver, ns: 'bs-7' };
    dst = { driver, ns: 'intermediate' };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('references: NAMESPACE/REPOSITORY:TAG and @DIGEST', () => {
    assert.deepEqual(parseImageRef('bs-1/team/app:v1', false), { namespace: 'bs-1', repository: 'team/app', reference: 'v1' });
    assert.deepEqual(parseImageRef('registry:5000/app@sha256:ab', true), {
      namespace: 'registry:5000',
      repository: 'app',
      reference: 'sha256:ab',
    });
    for (const bad of ['app:v1', '/app:v1', 'ns/app', 'ns/:v1', 'ns/app:']) assert.throws(() => parseImageRef(bad, true), /expected/, bad);
    assert.throws(() => parseImageRef('ns/app@sha256:ab', false), /needs a tag/);
  });

  test('an image and an index, by tag and by digest; blobs are hard links', async () => {
    const img = await pushImage(src, 'app', 'latest');
    const r = await wharf(['-c', cfg, 'bs-7/app:latest', 'intermediate/app:change-7']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /promoted bs-7\/app:latest \(sha256:[0-9a-f]{64}\)\n\s+to intermediate\/app:change-7\n\s+copied 2 blobs/);
    assert.equal((await getManifest(dst, 'app', 'change-7')).digest.text, img.digest.text);
    const f = (ns: string) => join(dir, 'data', layout.blob(ns, img.layers[0]!));
    assert.equal(statSync(f('intermediate')).ino, statSync(f('bs-7')).ino);

    const a = await pushImage(src, 'multi', undefined);
    const b = await pushImage(src, 'multi', undefined);
    const idx = await pushIndex(src, 'multi', undefined, [a, b]);
    const j = await wharf(['--config', cfg, '--json', `bs-7/multi@${idx.text}`, 'intermediate/multi:v1']);
    assert.equal(j.status, 0, j.stderr);
    const out = JSON.parse(j.stdout);
    assert.equal(out.digest, idx.text);
    assert.deepEqual(out.linked, { blobs: 4, manifests: 3, referrers: 0 });
    assert.deepEqual(out.to, { namespace: 'intermediate', repository: 'multi', tag: 'v1' });
    assert.equal((await getManifest(dst, 'multi', 'v1')).digest.text, idx.text);
  });

  test('bad usage exits 2; a missing source exits 1 naming it; nothing written', async () => {
    const help = runWharf(['promote', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: wharf promote/);
    const bogus = runWharf(['promote', '--bogus']);
    assert.equal(bogus.status, 2, bogus.stderr);
    assert.match(bogus.stderr, /wharf promote: /);
    for (const args of [[], ['-c', cfg, 'bs-7/app:latest'], ['-c', cfg, 'bs-7/app:latest', 'elsewhere/app@sha256:ab'], ['--bogus']]) {
      const r = await wharf(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /wharf promote: /);
    }
    const missing = await wharf(['-c', cfg, 'bs-7/app:nope', 'elsewhere/app:v1']);
    assert.equal(missing.status, 1, missing.stderr);
    assert.match(missing.stderr, /MANIFEST_UNKNOWN/);
    const badName = await wharf(['-c', cfg, 'bs-7/app:latest', 'elsewhere/App:v1']);
    assert.equal(badName.status, 1);
    assert.match(badName.stderr, /NAME_INVALID/);
    assert.equal(existsSync(join(dir, 'data', 'elsewhere')), false);
  });
});
