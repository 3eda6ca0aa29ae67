// What the fuzzer starts from: a registry holding a few images in two
// repositories and two open uploads, pushed the ordinary way.
import { OciClient, randomBlob, type RequestInit, type Resp } from '../helpers/oci-client.js';
import type { World } from './requests.js';

/**
 * A client whose every request carries one Authorization header (a registry with
 * users), on a connection of its own: none is left open when the (short) run ends.
 */
class AuthorizedClient extends OciClient {
  constructor(
    base: string,
    private readonly authorization: string,
  ) {
    super(base);
  }
  override request(method: string, pathOrUrl: string, init: RequestInit = {}): Promise<Resp> {
    return super.request(method, pathOrUrl, {
      ...init,
      headers: { ...init.headers, Authorization: this.authorization, Connection: 'close' },
    });
  }
}

/** `auth`: the registry has users; every request of the setup and of the run carries this header. */
export async function setupWorld(url: string, host: string, auth?: string): Promise<World> {
  const c = auth ? new AuthorizedClient(url, auth) : new OciClient(url);
  const world: World = {
    host,
    repos: ['fuzz/a', 'fuzz/b', 'fuzz/deep/name'],
    blobs: [],
    manifests: [],
    uploads: [],
    ...(auth ? { auth } : {}),
  };
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
