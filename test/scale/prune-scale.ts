// Scale check for prune (not part of the default test run: it writes ~200k
// files). Generates a filesystem store with BLOBS blobs and MANIFESTS
// manifests in REPOS repositories, then prunes it in a fresh process and
// reports the time and the peak RSS of that process.
//
//   node dist/test/scale/prune-scale.js [--blobs 100000] [--manifests 10000] [--repos 100] [--root DIR] [--keep]
//
// Store shape: see store-gen.ts. Everything is older than the grace period
// used (0 s).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prune } from '../../src/registry/prune/index.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { measured, printIdleNodeRss, STORE_OPTIONS } from './measure.js';
import { generate } from './store-gen.js';

const { values } = parseArgs({ options: { ...STORE_OPTIONS, 'prune-only': { type: 'string' } } });

async function pruneOnly(root: string): Promise<void> {
  const driver = new FilesystemDriver({ root, fsync: false, sweepTemp: false });
  const dry = process.env.PRUNE_SCALE_DRY === '1';
  const options = { graceSeconds: 0, uploadAgeSeconds: 3600, dryRun: dry };
  const { result: report, seconds, peakRssMiB } = await measured(() => prune(driver, options));
  process.stdout.write(
    JSON.stringify({
      dryRun: dry,
      seconds,
      peakRssMiB,
      removed: report.removed,
      kept: { manifests: report.kept.manifests.objects, blobs: report.kept.blobs.objects, links: report.kept.links },
      problems: report.problems.length,
    }),
  );
}

async function main(): Promise<void> {
  if (values['prune-only']) return pruneOnly(values['prune-only']);
  const root = values.root ?? mkdtempSync(join(tmpdir(), 'wharf-prune-scale-'));
  try {
    const gen = await generate(root, Number(values.blobs), Number(values.manifests), Number(values.repos));
    console.log(`generated: ${JSON.stringify(gen)}`);
    const self = new URL(import.meta.url).pathname;
    printIdleNodeRss();
    for (const dry of ['1', '0']) {
      const r = spawnSync(process.execPath, [self, '--prune-only', root], {
        encoding: 'utf8',
        env: { ...process.env, PRUNE_SCALE_DRY: dry },
      });
      if (r.status !== 0) throw new Error(`prune failed: ${r.stderr}`);
      console.log(`${dry === '1' ? 'dry run' : 'prune  '}: ${r.stdout}`);
    }
  } finally {
    if (!values.keep && !values.root) rmSync(root, { recursive: true, force: true });
  }
}

await main();
