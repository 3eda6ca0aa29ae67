// Scale check for prune (not part of the default test run: it writes ~200k
// files). Generates a filesystem store with BLOBS blobs and MANIFESTS
// manifests in REPOS repositories, then prunes it in a fresh process and
// reports the time and the peak RSS of that process.
//
//   node dist/test/scale/prune-scale.js [--blobs 100000] [--manifests 10000] [--repos 100] [--root DIR] [--keep]
//
// Store shape: MANIFESTS manifests, each with a config and 7 layers (5 of its
// own, 2 from a shared pool of 1000), 75% of them tagged; plus a quarter as
// many images whose manifests were deleted (their unique blobs and their
// links are garbage); the blob count is made up with strays (no link,
// garbage). Everything is older than the grace
// period used (0 s), and manifests were pushed two hours ago.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { layout } from '../../src/registry/layout.js';
import { parseDigest, type Digest } from '../../src/registry/names.js';
import { prune } from '../../src/registry/prune/index.js';
import { FilesystemDriver } from '../../src/storage/fs.js';

const { values } = parseArgs({
  options: {
    blobs: { type: 'string', default: '100000' },
    manifests: { type: 'string', default: '10000' },
    repos: { type: 'string', default: '100' },
    root: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'prune-only': { type: 'string' },
  },
});

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function digest(b: Buffer): Digest {
  return parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);
}

async function pool<T>(items: Iterable<T>, n: number, fn: (x: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let r = it.next(); !r.done; r = it.next()) await fn(r.value);
    }),
  );
}

async function generate(root: string, blobs: number, manifests: number, repos: number): Promise<Record<string, number>> {
  const driver = new FilesystemDriver({ root, fsync: false, sweepTemp: false });
  const ns = 'default';
  const written = new Set<string>();
  let blobCount = 0;
  const putBlob = async (b: Buffer, d = digest(b)) => {
    if (written.has(d.text)) return d;
    written.add(d.text);
    blobCount++;
    await driver.put(layout.blob(ns, d), b);
    return d;
  };
  const shared: Buffer[] = Array.from({ length: 1000 }, () => randomBytes(48));
  const pushedAgo = Date.now() - 2 * 3600_000;
  let deleted = 0;
  let links = 0;
  const t0 = Date.now();
  const images = Math.round(manifests * 1.25);
  await pool(
    Array.from({ length: images }, (_, i) => i),
    32,
    async (i) => {
      const repo = `proj${i % repos}/app`;
      const config = randomBytes(64);
      const own = Array.from({ length: 5 }, () => randomBytes(48));
      const layers = [...own, shared[i % 1000]!, shared[(i * 7 + 3) % 1000]!];
      const cd = await putBlob(config);
      const lds: Digest[] = [];
      for (const l of layers) lds.push(await putBlob(l));
      for (const d of [cd, ...lds]) {
        await driver.put(layout.repoBlobLink(ns, repo, d), Buffer.alloc(0));
        links++;
      }
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd.text, size: config.length },
          layers: lds.map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d.text, size: 48 })),
        }),
      );
      const md = await putBlob(body);
      if (i % 5 === 4) {
        deleted++;
        return; // deleted manifest: its blobs and links stay behind as garbage
      }
      await driver.put(
        layout.manifestLink(ns, repo, md),
        Buffer.from(JSON.stringify({ mediaType: OCI_MANIFEST, size: body.length, pushed: pushedAgo })),
      );
      if (i % 5 !== 3) await driver.put(layout.tag(ns, repo, `t${i}`), Buffer.from(JSON.stringify({ digest: md.text, pushed: pushedAgo })));
      await driver.put(layout.catalogEntry(ns, repo), Buffer.alloc(0));
    },
  );
  const strays = Math.max(0, blobs - blobCount);
  await pool(
    Array.from({ length: strays }, (_, i) => i),
    32,
    async () => {
      await putBlob(randomBytes(40));
    },
  );
  await driver.close();
  return {
    blobs: blobCount,
    manifests: images - deleted,
    deletedManifests: deleted,
    links,
    strayBlobs: strays,
    generateSeconds: (Date.now() - t0) / 1000,
  };
}

async function pruneOnly(root: string): Promise<void> {
  const driver = new FilesystemDriver({ root, fsync: false, sweepTemp: false });
  const t0 = process.hrtime.bigint();
  const dry = process.env.PRUNE_SCALE_DRY === '1';
  const report = await prune(driver, { graceSeconds: 0, uploadAgeSeconds: 3600, dryRun: dry });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(
    JSON.stringify({
      dryRun: dry,
      seconds,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
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
    const baseline = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.resourceUsage().maxRSS/1024))'], {
      encoding: 'utf8',
    });
    console.log(`idle node peak RSS: ${Number(baseline.stdout).toFixed(1)} MiB`);
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
