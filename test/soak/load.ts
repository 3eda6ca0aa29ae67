// The soak's mixed load, done the way clients do it: workers push images
// (HEAD each blob first, then a monolithic, chunked or streamed upload;
// layers partly shared), pull them back (every byte checked against its
// digest), delete tags and manifests, mount blobs across repositories,
// abandon a few uploads (prune removes those), list tags and the catalog, and
// pull images through a mirror namespace from an upstream registry that gets
// new tags while the load runs. Every answer passes the checks every API
// response must pass (no 5xx, OCI error bodies, no internals); every
// operation's outcome is checked against what the worker knows it did.
import { createHash, randomBytes } from 'node:crypto';
import type { OciClient, Resp } from '../helpers/oci-client.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Image {
  repo: string;
  tag: string;
  digest: string;
  manifest: Buffer;
  /** config and layers */
  blobs: Array<{ digest: string; size: number }>;
}

export interface LoadStats {
  ops: Record<string, number>;
  /** client-side latency per operation kind, ms */
  latency: Record<string, number[]>;
  bytesUp: number;
  bytesDown: number;
}

/** One problem the load saw, with enough to find it again. */
export type Failure = string;

const OPS = [
  [40, 'push'],
  [28, 'pull'],
  [8, 'delete'],
  [7, 'mount'],
  [10, 'mirror-pull'],
  [3, 'abandon'],
  [4, 'list'],
] as const;

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

function weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
  let x = Math.random() * table.reduce((n, [w]) => n + w, 0);
  for (const [w, v] of table) {
    x -= w;
    if (x < 0) return v;
  }
  return table[table.length - 1]![1];
}

/** Layer sizes: mostly small, some medium, a few big. */
function layerSize(): number {
  return weighted([
    [70, 1024 + Math.floor(Math.random() * 63 * 1024)],
    [25, 256 * 1024 + Math.floor(Math.random() * 768 * 1024)],
    [5, 4 * 1024 * 1024],
  ] as const);
}

export class Load {
  readonly failures: Failure[] = [];
  readonly stats: LoadStats = { ops: {}, latency: {}, bytesUp: 0, bytesDown: 0 };
  /** Images each worker pushed and has not deleted: they must pull whole. */
  readonly live = new Map<string, Image>();
  /** Upload ids abandoned on purpose (prune removes them). */
  readonly abandoned = new Set<string>();
  /** Images in the upstream registry, reachable through the mirror namespace. */
  readonly upstreamImages: Image[] = [];
  private stopAt = 0;

  constructor(
    private readonly c: OciClient,
    private readonly upstream: OciClient,
    private readonly mirrorNs: string,
  ) {}

  fail(what: string): void {
    if (this.failures.length < 50) this.failures.push(what);
  }

  /** Push a few images upstream before the load starts. */
  async seedUpstream(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.pushUpstream();
  }

  /** Run `workers` workers until `ms` from now, and the upstream pusher beside them. */
  async run(workers: number, ms: number): Promise<void> {
    this.stopAt = Date.now() + ms;
    const tasks = Array.from({ length: workers }, (_, w) => this.worker(w));
    tasks.push(this.upstreamPusher());
    await Promise.all(tasks);
  }

  private running(): boolean {
    return Date.now() < this.stopAt;
  }

  private async upstreamPusher(): Promise<void> {
    while (this.running()) {
      await new Promise((r) => setTimeout(r, 5000));
      if (!this.running()) break;
      await this.pushUpstream().catch((err) => this.fail(`upstream push: ${err}`));
    }
  }

  private async pushUpstream(): Promise<void> {
    const repo = pick(['lib/alpha', 'lib/beta', 'tools/gamma']);
    const tag = `u${this.upstreamImages.length}`;
    const img = await pushImage(this.upstream, repo, tag, [randomBytes(layerSize()), randomBytes(2000)], 'monolithic');
    this.upstreamImages.push(img);
  }

  private async worker(w: number): Promise<void> {
    const repos = [`soak/w${w}/app`, `soak/w${w}/lib`];
    // Layers this worker shares between its images (by digest, with their bytes).
    const pool: Buffer[] = Array.from({ length: 6 }, () => randomBytes(layerSize()));
    let n = 0;
    while (this.running()) {
      const op = weighted(OPS);
      const started = Date.now();
      try {
        await this.step(op, w, repos, pool, n++);
      } catch (err) {
        this.fail(`worker ${w} ${op}: ${(err as Error).message ?? err}`);
      }
      this.stats.ops[op] = (this.stats.ops[op] ?? 0) + 1;
      const times = this.stats.latency[op] ?? [];
      times.push(Date.now() - started);
      this.stats.latency[op] = times;
    }
  }

  private mine(w: number): Image[] {
    return [...this.live.values()].filter((i) => i.repo.startsWith(`soak/w${w}/`));
  }

  private async step(op: string, w: number, repos: string[], pool: Buffer[], n: number): Promise<void> {
    const c = this.c;
    switch (op) {
      case 'push': {
        const repo = pick(repos);
        const layers = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () =>
          Math.random() < 0.6 ? pick(pool) : randomBytes(layerSize()),
        );
        // Tags are reused now and then: the tag moves to the new image.
        const tag = `t${n % 40}`;
        const img = await pushImage(
          c,
          repo,
          tag,
          layers,
          weighted([
            [5, 'monolithic'],
            [3, 'chunked'],
            [2, 'streamed'],
          ] as const),
        );
        this.stats.bytesUp += layers.reduce((s, l) => s + l.length, 0);
        this.live.set(`${repo}:${tag}`, img);
        return;
      }
      case 'pull': {
        const img = pick(this.mine(w));
        if (!img) return;
        this.stats.bytesDown += await pullImage(c, img, (m) => this.fail(`pull ${img.repo}:${img.tag}: ${m}`));
        return;
      }
      case 'delete': {
        const img = pick(this.mine(w));
        if (!img) return;
        const byDigest = Math.random() < 0.5;
        const r = await c.deleteManifest(img.repo, byDigest ? img.digest : img.tag);
        if (r.status !== 202)
          return this.fail(`delete ${img.repo}@${byDigest ? img.digest : img.tag}: ${r.status} ${r.text.slice(0, 200)}`);
        // By digest, every tag on that manifest goes with it.
        for (const [k, v] of this.live)
          if (v.repo === img.repo && (byDigest ? v.digest === img.digest : v.tag === img.tag)) this.live.delete(k);
        return;
      }
      case 'mount': {
        const [from, to] = Math.random() < 0.5 ? repos : [...repos].reverse();
        const layer = pick(pool);
        const d = sha256(layer);
        const r = await c.request('POST', `/v2/${to}/blobs/uploads/`, { query: { mount: d, from: from! } });
        if (r.status === 201) return;
        if (r.status !== 202) return this.fail(`mount ${d} from ${from} to ${to}: ${r.status} ${r.text.slice(0, 200)}`);
        // Not mountable (not in `from`, or gone): upload it instead, as a client would.
        const fin = await c.finish(r.header('location')!, d, layer);
        if (fin.status !== 201) this.fail(`upload after a refused mount: ${fin.status} ${fin.text.slice(0, 200)}`);
        return;
      }
      case 'mirror-pull': {
        const img = pick(this.upstreamImages);
        if (!img) return;
        const m = c.withNs(this.mirrorNs);
        this.stats.bytesDown += await pullImage(m, img, (msg) => this.fail(`mirror pull ${img.repo}:${img.tag}: ${msg}`));
        return;
      }
      case 'abandon': {
        const { location, uuid } = await c.startUpload(pick(repos));
        const r = await c.patch(location, randomBytes(1000 + Math.floor(Math.random() * 100_000)));
        if (r.status !== 202) this.fail(`PATCH of an upload: ${r.status} ${r.text.slice(0, 200)}`);
        this.abandoned.add(uuid);
        return;
      }
      default: {
        const r = Math.random() < 0.5 ? await c.tags(pick(repos), { n: '10' }) : await c.catalog({ n: '20' });
        if (r.status !== 200 && r.status !== 404) this.fail(`listing: ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
  }
}

/** Push blobs the way clients do (HEAD, then upload what is missing), then the manifest. */
export async function pushImage(
  c: OciClient,
  repo: string,
  tag: string,
  layers: Buffer[],
  style: 'monolithic' | 'chunked' | 'streamed',
): Promise<Image> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }),
  );
  const blobs = [config, ...layers];
  for (const b of blobs) {
    const d = sha256(b);
    const head = await c.headBlob(repo, d);
    if (head.status === 200) continue;
    let r: Resp;
    if (style === 'monolithic' || b.length < 4096) {
      r = await c.postMonolithic(repo, b, d);
    } else {
      let { location } = await c.startUpload(repo);
      const size = style === 'chunked' ? 64 * 1024 : b.length;
      for (let off = 0; off < b.length; off += size) {
        const piece = b.subarray(off, off + size);
        const p = style === 'chunked' ? await c.patch(location, piece, { start: off }) : await c.patchStream(location, [piece]);
        if (p.status !== 202) throw new Error(`PATCH ${repo}: ${p.status} ${p.text.slice(0, 200)}`);
        location = p.header('location')!;
      }
      r = await c.finish(location, d);
    }
    if (r.status !== 201) throw new Error(`blob push to ${repo}: ${r.status} ${r.text.slice(0, 200)}`);
  }
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: sha256(l), size: l.length })),
  };
  const manifest = Buffer.from(JSON.stringify(doc));
  const r = await c.putManifest(repo, tag, manifest, OCI_MANIFEST);
  if (r.status !== 201) throw new Error(`manifest push ${repo}:${tag} refused: ${r.status} ${r.text.slice(0, 300)}`);
  return { repo, tag, digest: sha256(manifest), manifest, blobs: blobs.map((b) => ({ digest: sha256(b), size: b.length })) };
}

/** Pull an image by tag, checking every byte; returns the bytes read. */
export async function pullImage(c: OciClient, img: Image, fail: (m: string) => void): Promise<number> {
  const m = await c.getManifest(img.repo, img.tag);
  if (m.status !== 200) {
    fail(`manifest: ${m.status} ${m.text.slice(0, 200)}`);
    return 0;
  }
  if (sha256(m.body) !== img.digest) {
    fail(`manifest by tag is ${sha256(m.body)}, pushed ${img.digest}`);
    return 0;
  }
  let bytes = m.body.length;
  for (const b of img.blobs) {
    const r = await c.getBlob(img.repo, b.digest);
    if (r.status !== 200) fail(`blob ${b.digest}: ${r.status} ${r.text.slice(0, 200)}`);
    else if (sha256(r.body) !== b.digest) fail(`blob ${b.digest}: bytes hash to ${sha256(r.body)}`);
    bytes += r.body.length;
  }
  return bytes;
}
