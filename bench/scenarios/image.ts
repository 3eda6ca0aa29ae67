// Scenario 8: push and pull of a 5-layer image through the API the way a
// client does it. Push: per layer (all 5 in parallel) HEAD blob → POST →
// PATCH → PUT ?digest=, then the config, then the manifest PUT by tag. Pull:
// manifest GET, then config and layer GETs in parallel, each verified by
// digest. Seconds for the whole round trip (lower is better).
// Each round's fresh server first takes another image of the same sizes (its
// round trip is reported as "first image after start": for Wharf it includes
// the JIT compiling the upload and pull paths, which a running registry has
// done long ago); the measured image is the second one.
import { imageManifest, OCI_CONFIG, OCI_LAYER, type RegistryClient } from '../client.js';
import { Payload, type SmallBlob } from '../payload.js';
import { defineScenario, fmtBytes, withClient } from '../scenario.js';
import { configBlob } from './small-push.js';

interface OneImage {
  layers: Payload[];
  config: SmallBlob;
  manifest: Buffer;
}

interface Image extends OneImage {
  /** Pushed and pulled first, on the same server. */
  first: OneImage;
}

function makeImage(sizes: number[]): OneImage {
  const layers = sizes.map((n) => new Payload(n));
  const config = configBlob(2048);
  const manifest = imageManifest(
    { mediaType: OCI_CONFIG, digest: config.digest, size: config.data.length },
    layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
  );
  return { layers, config, manifest };
}

/** Push `img` to `repo` like a client, then pull it back verified; seconds for the push. */
async function roundTrip(c: RegistryClient, repo: string, img: OneImage): Promise<number> {
  const t0 = performance.now();
  await Promise.all(img.layers.map((l) => c.pushLayerLikeAClient(repo, l.digest, l.body(), l.size)));
  await c.pushLayerLikeAClient(repo, img.config.digest, img.config.data, img.config.data.length);
  await c.putManifest(repo, 'v1', img.manifest);
  const pushed = (performance.now() - t0) / 1000;
  const m = JSON.parse((await c.getManifest(repo, 'v1')).toString()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  await Promise.all([m.config, ...m.layers].map((d) => c.getBlob(repo, d.digest)));
  return pushed;
}

export const image = defineScenario<Image>({
  name: 'image',
  title: '5-layer image push + pull',
  describe: (s) => `layers of ${s.imageLayers.map(fmtBytes).join(', ')}: HEAD→POST→PATCH→PUT, manifest PUT; manifest GET + blob GETs`,
  metrics: [
    {
      key: 'seconds',
      label: 'round trip s',
      unit: 's',
      better: 'lower',
      digits: 3,
      target: { kind: 'ratio', value: 2, text: '≤ half the time (≥ 2×)' },
    },
    { key: 'push', label: 'push s', unit: 's', better: 'lower', digits: 3 },
    { key: 'pull', label: 'pull s', unit: 's', better: 'lower', digits: 3 },
    { key: 'first', label: 'first image after start: round trip s', unit: 's', better: 'lower', digits: 3 },
  ],
  prepare: (s) => ({ ...makeImage(s.imageLayers), first: makeImage(s.imageLayers) }),
  run: (server, img) =>
    withClient(server, 8, async (c) => {
      const t0 = performance.now();
      await roundTrip(c, 'bench/first', img.first);
      const first = (performance.now() - t0) / 1000;
      let pushed = 0;
      const { window } = await server.measure(async () => {
        pushed = await roundTrip(c, 'bench/image', img);
      });
      return { metrics: { seconds: window.wallSeconds, push: pushed, pull: window.wallSeconds - pushed, first }, window };
    }),
});
