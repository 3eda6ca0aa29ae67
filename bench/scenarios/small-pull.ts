// Scenario 7: small manifest/blob HEAD and GET from 64 concurrent keep-alive
// connections for N seconds: req/s, p50 and p99 latency (ms).
import { randomBytes } from 'node:crypto';
import { imageManifest, OCI_CONFIG, OCI_LAYER, type RegistryClient } from '../client.js';
import { randomSize, smallBlob, type SmallBlob } from '../payload.js';
import { defineScenario, withClient } from '../scenario.js';
import type { BenchServer } from '../servers.js';
import { Samples, sleep } from '../stats.js';
import { configBlob } from './small-push.js';

export interface SmallImage {
  repo: string;
  tag: string;
  blobs: SmallBlob[];
  manifest: Buffer;
}

export function makeSmallImage(repo: string, layers = 4): SmallImage {
  const config = configBlob(randomSize(1024, 4096));
  const ls = Array.from({ length: layers }, () => smallBlob(randomBytes(randomSize(4096, 65536))));
  const manifest = imageManifest(
    { mediaType: OCI_CONFIG, digest: config.digest, size: config.data.length },
    ls.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.data.length })),
  );
  return { repo, tag: 'v1', blobs: [config, ...ls], manifest };
}

export async function seedSmallImage(c: RegistryClient, img: SmallImage): Promise<void> {
  for (const b of img.blobs) await c.pushSmall(img.repo, b);
  await c.putManifest(img.repo, img.tag, img.manifest);
}

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

/** One request of the small-pull mix (i picks which); resolves to its latency in ms. Throws on a wrong answer. */
export async function smallPullRequest(c: RegistryClient, img: SmallImage, i: number): Promise<number> {
  const b = img.blobs[(i >> 2) % img.blobs.length]!;
  let method: 'GET' | 'HEAD';
  let path: string;
  let headers: Record<string, string> = {};
  let expect: number;
  switch (i & 3) {
    case 0:
      method = 'HEAD';
      path = `/v2/${img.repo}/manifests/${img.tag}`;
      headers = { accept: ACCEPT };
      expect = 0;
      break;
    case 1:
      method = 'GET';
      path = `/v2/${img.repo}/manifests/${img.tag}`;
      headers = { accept: ACCEPT };
      expect = img.manifest.length;
      break;
    case 2:
      method = 'HEAD';
      path = `/v2/${img.repo}/blobs/${b.digest}`;
      expect = 0;
      break;
    default:
      method = 'GET';
      path = `/v2/${img.repo}/blobs/${b.digest}`;
      expect = b.data.length;
  }
  const t0 = performance.now();
  const res = await c.pool.request({ method, path, headers });
  let got = 0;
  for await (const chunk of res.body) got += (chunk as Buffer).length;
  const ms = performance.now() - t0;
  if (res.statusCode !== 200 || got !== expect) {
    throw new Error(`${method} ${path}: HTTP ${res.statusCode}, ${got} bytes (expected 200, ${expect})`);
  }
  return ms;
}

/** `clients` loops of small pulls until `until()` is true; each waits `thinkMs` between requests. */
export async function smallPullLoad(
  c: RegistryClient,
  img: SmallImage,
  clients: number,
  until: () => boolean,
  thinkMs = 0,
): Promise<Samples> {
  const samples = new Samples();
  let seq = 0;
  const loop = async (k: number) => {
    let i = k;
    while (!until()) {
      samples.push(await smallPullRequest(c, img, i));
      i = seq++;
      if (thinkMs > 0) await sleep(thinkMs);
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, k) => loop(k)));
  return samples;
}

export const smallPull = defineScenario<SmallImage>({
  name: 'conc',
  title: 'Small HEAD/GET, 64 connections',
  describe: (s) => `manifest and 4–64 KiB blob HEAD/GET by ${s.concConnections} keep-alive connections for ${s.concSeconds} s`,
  metrics: [
    { key: 'rps', label: 'req/s', unit: 'req/s', better: 'higher', digits: 0, target: { kind: 'ratio', value: 3, text: '≥ 3×' } },
    { key: 'p50', label: 'p50 ms', unit: 'ms', better: 'lower', digits: 2 },
    { key: 'p99', label: 'p99 ms', unit: 'ms', better: 'lower', digits: 2, target: { kind: 'ratio', value: 1, text: 'no worse (≥ 1.0×)' } },
  ],
  prepare: () => makeSmallImage('bench/conc'),
  run: (server: BenchServer, img, s) =>
    withClient(server, s.concConnections, async (c) => {
      await seedSmallImage(c, img);
      // Warm-up: open the connections.
      const warm = Date.now() + 300;
      await smallPullLoad(c, img, s.concConnections, () => Date.now() > warm);
      const { value: samples, window } = await server.measure(() => {
        const end = Date.now() + s.concSeconds * 1000;
        return smallPullLoad(c, img, s.concConnections, () => Date.now() >= end);
      });
      return {
        metrics: { rps: samples.length / window.wallSeconds, p50: samples.percentile(50), p99: samples.percentile(99) },
        window,
      };
    }),
});
