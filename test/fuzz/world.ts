// What the fuzzer starts from: a registry holding a few images in two
// repositories and two open uploads, pushed the ordinary way.
import { OciClient, randomBlob } from '../helpers/oci-client.js';
import type { World } from './requests.js';

export async function setupWorld(url: string, host: string): Promise<World> {
  const c = new OciClient(url);
  const world: World = { host, repos: ['fuzz/a', 'fuzz/b', 'fuzz/deep/name'], blobs: [], manifests: [], uploads: [] };
  for (const [i, repo] of world.repos.slice(0, 2).entries()) {
    const layers = [randomBlob(100), randomBlob(5000)];
    const img = await c.pushImage(repo, `v${i}`, { layers });
    world.blobs.push({ repo, digest: img.config.digest, size: img.config.size });
    for (const [k, l] of img.layers.entries()) world.blobs.push({ repo, digest: l.digest, size: layers[k]!.length });
    world.manifests.push({ repo, digest: img.digest, tag: `v${i}`, body: img.body, mediaType: img.mediaType });
    const { location } = await c.startUpload(repo);
    world.uploads.push({ repo, path: location, offset: 0, data: Buffer.alloc(0) });
  }
  if (world.blobs.some((b) => !b.digest.startsWith('sha256:'))) throw new Error('setup: unexpected digest');
  return world;
}
