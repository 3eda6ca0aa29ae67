// A large filesystem store for the scale scripts (prune-scale.ts,
// fsck-scale.ts): MANIFESTS manifests in REPOS repositories, each with a
// config and 7 layers (5 of its own, 2 from a shared pool of 1000), 75% of
// them tagged; plus a quarter as many images whose manifests were deleted
// (their unique blobs and their links are garbage); the blob count is made up
// with strays (no link, garbage). Manifests were pushed two hours ago.
import { createHash, randomBytes } from 'node:crypto';
import { layout } from '../../src/registry/layout.js';
import { parseDigest, type Digest } from '../../src/registry/names.js';
import { FilesystemDriver } from '../../src/storage/fs.js';

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

export async function generate(root: string, blobs: number, manifests: number, repos: number): Promise<Record<string, number>> {
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
