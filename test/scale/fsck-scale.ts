// Scale check for fsck (not part of the default test run: it writes ~200k
// files). Generates a filesystem store (store-gen.ts: BLOBS blobs, MANIFESTS
// manifests in REPOS repositories, garbage included), then runs fsck on it in
// a fresh process — structure only, then --deep — and reports the time, the
// peak RSS of that process, and what it found (no damage; the stray blobs as
// orphans).
//
//   node dist/test/scale/fsck-scale.js [--blobs 100000] [--manifests 10000] [--repos 100] [--root DIR] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fsck } from '../../src/registry/fsck/index.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { measured, printIdleNodeRss, STORE_OPTIONS } from './measure.js';
import { generate } from './store-gen.js';

const { values } = parseArgs({
  options: { ...STORE_OPTIONS, 'fsck-only': { type: 'string' }, deep: { type: 'boolean', default: false } },
});

async function fsckOnly(root: string, deep: boolean): Promise<void> {
  const driver = new FilesystemDriver({ root, fsync: false, sweepTemp: false });
  const { result: r, seconds, peakRssMiB } = await measured(() => fsck(driver, { deep, graceSeconds: 0 }));
  process.stdout.write(
    JSON.stringify({
      deep,
      seconds,
      peakRssMiB,
      scanned: r.scanned,
      counts: r.counts,
      orphansNotListed: r.orphansNotListed,
      omitted: r.omitted,
      incomplete: r.incomplete.length,
    }),
  );
}

async function main(): Promise<void> {
  if (values['fsck-only']) return fsckOnly(values['fsck-only'], values.deep);
  const root = values.root ?? mkdtempSync(join(tmpdir(), 'wharf-fsck-scale-'));
  try {
    if (!values.root) {
      const gen = await generate(root, Number(values.blobs), Number(values.manifests), Number(values.repos));
      console.log(`generated: ${JSON.stringify(gen)}`);
    }
    const self = new URL(import.meta.url).pathname;
    printIdleNodeRss();
    for (const deep of [false, true]) {
      const r = spawnSync(process.execPath, [self, '--fsck-only', root, ...(deep ? ['--deep'] : [])], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`fsck failed: ${r.stderr}`);
      console.log(`${deep ? 'fsck --deep' : 'fsck      '}: ${r.stdout}`);
    }
  } finally {
    if (!values.keep && !values.root) rmSync(root, { recursive: true, force: true });
  }
}

await main();
