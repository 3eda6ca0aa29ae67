// Scenario 6: many small blobs (4–64 KiB of random bytes) plus one image
// manifest per 10 blobs (a JSON config and 9 layers), pushed by 16 concurrent
// clients (POST, PUT ?digest= with the body; then the manifest PUT by tag).
// ops/s counts blobs and manifests.
import { randomBytes } from 'node:crypto';
import { imageManifest, OCI_CONFIG, OCI_LAYER } from '../client.js';
import { randomSize, smallBlob, type SmallBlob } from '../payload.js';
import { defineScenario, withClient } from '../scenario.js';

interface Group {
  blobs: SmallBlob[];
  manifest: Buffer;
}

export function configBlob(size: number): SmallBlob {
  const base = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] as string[] }, pad: '' };
  const room = Math.max(0, size - Buffer.byteLength(JSON.stringify(base)));
  base.pad = randomBytes(Math.ceil(room / 2))
    .toString('hex')
    .slice(0, room);
  return smallBlob(Buffer.from(JSON.stringify(base)));
}

export const smallPush = defineScenario<Group[]>({
  name: 'small',
  title: 'Small blobs + manifests, 16 clients',
  describe: (s) =>
    `${s.smallCount} blobs of 4–64 KiB + ${Math.ceil(s.smallCount / 10)} manifests, ${s.smallConcurrency} concurrent clients`,
  metrics: [{ key: 'ops', label: 'ops/s', unit: 'ops/s', better: 'higher', digits: 0, target: { kind: 'ratio', value: 3, text: '≥ 3×' } }],
  prepare: (s) => {
    const groups: Group[] = [];
    for (let made = 0; made < s.smallCount; ) {
      const n = Math.min(10, s.smallCount - made);
      const config = configBlob(randomSize(4096, 65536));
      const layers = Array.from({ length: n - 1 }, () => smallBlob(randomBytes(randomSize(4096, 65536))));
      const manifest = imageManifest(
        { mediaType: OCI_CONFIG, digest: config.digest, size: config.data.length },
        layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.data.length })),
      );
      groups.push({ blobs: [config, ...layers], manifest });
      made += n;
    }
    return groups;
  },
  run: (server, groups, s) =>
    withClient(server, s.smallConcurrency, async (c) => {
      const repo = 'bench/small';
      let next = 0;
      let ops = 0;
      const worker = async () => {
        while (next < groups.length) {
          const i = next++;
          const g = groups[i]!;
          for (const b of g.blobs) {
            await c.pushSmall(repo, b);
            ops++;
          }
          await c.putManifest(repo, `g${i}`, g.manifest);
          ops++;
        }
      };
      const { window } = await server.measure(() => Promise.all(Array.from({ length: s.smallConcurrency }, worker)));
      // Spot check: the last group's manifest and a blob are readable.
      const last = groups.length - 1;
      const m = await c.getManifest(repo, `g${last}`);
      if (!m.equals(groups[last]!.manifest)) throw new Error('manifest read back differs');
      await c.getBlob(repo, groups[last]!.blobs[0]!.digest);
      return { metrics: { ops: ops / window.wallSeconds }, window };
    }),
});
