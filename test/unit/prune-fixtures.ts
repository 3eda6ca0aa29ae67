// Fixtures for the prune tests: stores on the memory and fs drivers, filled
// through the registry's own push code (uploads, manifests, tags, referrers).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { layout } from '../../src/registry/layout.js';
import { putManifest, type ManifestLink } from '../../src/registry/manifests.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from '../../src/registry/media-types.js';
import { parseDigest, type Digest } from '../../src/registry/names.js';
import type { Scope } from '../../src/registry/scope.js';
import { uploadWhole } from '../../src/registry/uploads.js';
import { copyObject } from '../../src/storage/copy.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { S3Driver } from '../../src/storage/s3.js';
import { SwiftDriver } from '../../src/storage/swift.js';
import { destroySwiftContainers } from '../helpers/swift-driver.js';
import { destroyS3Bucket } from '../helpers/s3-driver.js';
import { ensureSwift, uniqueName } from '../helpers/swift.js';

export interface DriverCase {
  name: string;
  make(): Promise<{ driver: StorageDriver; cleanup(): Promise<void> }>;
}

export const DRIVERS: DriverCase[] = [
  { name: 'memory', make: async () => ({ driver: new MemoryDriver(), cleanup: async () => undefined }) },
  {
    name: 'fs',
    make: async () => {
      const root = mkdtempSync(join(tmpdir(), 'wharf-prune-'));
      return {
        driver: new FilesystemDriver({ root, fsync: false, sweepTemp: false }),
        cleanup: async () => rmSync(root, { recursive: true, force: true }),
      };
    },
  },
];

/** Swift and S3 against the Swift all-in-one (scripts/swift/start.sh), a fresh container or bucket per test. */
export const OBJECT_STORES: DriverCase[] = [
  {
    // Objects from 1 KiB on are segments + SLO manifest, so upload chunks
    // really share their segments with the published blob.
    name: 'swift',
    make: async () => {
      const env = await ensureSwift();
      const driver = new SwiftDriver({
        authUrl: env.authUrl,
        username: env.user,
        password: env.key,
        container: uniqueName('wharf-prune'),
        segmentThreshold: 1024,
      });
      return { driver, cleanup: () => destroySwiftContainers(driver) };
    },
  },
  {
    name: 's3',
    make: async () => {
      const env = await ensureSwift();
      const driver = new S3Driver({
        endpoint: env.s3Endpoint,
        region: env.s3Region,
        bucket: uniqueName('wharf-prune'),
        accessKey: env.s3AccessKey,
        secretKey: env.s3SecretKey,
        forcePathStyle: true,
      });
      return { driver, cleanup: () => destroyS3Bucket(driver) };
    },
  },
];

export const HOUR = 3600_000;

export function sha256(b: Buffer): Digest {
  return parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);
}

export async function pushBlob(s: Scope, repo: string, bytes: Buffer = randomBytes(64)): Promise<Digest> {
  const d = sha256(bytes);
  await uploadWhole(s, repo, d, Readable.from([bytes]), {});
  return d;
}

export interface Image {
  digest: Digest;
  config: Digest;
  layers: Digest[];
  body: Buffer;
}

function descriptor(mediaType: string, d: Digest, size: number) {
  return { mediaType, digest: d.text, size };
}

/** Push an image (config + layers, uploading the blobs) and its manifest. */
export async function pushImage(
  s: Scope,
  repo: string,
  reference: string | undefined,
  opts: { layers?: Buffer[]; docker?: boolean; subject?: Image | Digest; artifactType?: string } = {},
): Promise<Image> {
  const layersBytes = opts.layers ?? [randomBytes(100)];
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(8).toString('hex') }));
  const config = await pushBlob(s, repo, configBytes);
  const layers: Digest[] = [];
  for (const l of layersBytes) layers.push(await pushBlob(s, repo, l));
  const docker = opts.docker ?? false;
  const subject = opts.subject && 'digest' in opts.subject ? opts.subject.digest : (opts.subject as Digest | undefined);
  const doc = {
    schemaVersion: 2,
    mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config: descriptor(
      docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
      config,
      configBytes.length,
    ),
    layers: layers.map((d, i) =>
      descriptor(
        docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar',
        d,
        layersBytes[i]!.length,
      ),
    ),
    ...(subject ? { subject: descriptor(OCI_MANIFEST, subject, 100) } : {}),
  };
  const body = Buffer.from(JSON.stringify(doc));
  const digest = sha256(body);
  await putManifest(s, repo, reference ?? digest.text, body, doc.mediaType);
  return { digest, config, layers, body };
}

/** Push an index (or Docker manifest list) over images already in the repository. */
export async function pushIndex(s: Scope, repo: string, reference: string | undefined, children: Image[], docker = false): Promise<Digest> {
  const doc = {
    schemaVersion: 2,
    mediaType: docker ? DOCKER_MANIFEST_LIST : OCI_INDEX,
    manifests: children.map((c, i) => ({
      ...descriptor(docker ? DOCKER_MANIFEST : OCI_MANIFEST, c.digest, c.body.length),
      platform: { os: 'linux', architecture: `arch${i}` },
    })),
  };
  const body = Buffer.from(JSON.stringify(doc));
  const digest = sha256(body);
  await putManifest(s, repo, reference ?? digest.text, body, doc.mediaType);
  return digest;
}

/** Pretend a manifest was pushed `agoMs` ago (rewrites the link's push time). */
export async function setPushed(s: Scope, repo: string, d: Digest, agoMs: number): Promise<void> {
  const key = layout.manifestLink(s.ns, repo, d);
  const link = JSON.parse((await s.driver.get(key))!.toString('utf8')) as ManifestLink;
  link.pushed = Date.now() - agoMs;
  await s.driver.put(key, Buffer.from(JSON.stringify(link)));
}

/** Pretend a tag was pushed `agoMs` ago. */
export async function setTagPushed(s: Scope, repo: string, tag: string, agoMs: number): Promise<void> {
  const key = layout.tag(s.ns, repo, tag);
  const rec = JSON.parse((await s.driver.get(key))!.toString('utf8')) as { digest: string; pushed: number };
  rec.pushed = Date.now() - agoMs;
  await s.driver.put(key, Buffer.from(JSON.stringify(rec)));
}

export async function has(driver: StorageDriver, key: string): Promise<boolean> {
  return (await driver.stat(key)) !== null;
}

export const blobKey = (s: Scope, d: Digest) => layout.blob(s.ns, d);
export const linkKey = (s: Scope, repo: string, d: Digest) => layout.repoBlobLink(s.ns, repo, d);
export const manifestKey = (s: Scope, repo: string, d: Digest) => layout.manifestLink(s.ns, repo, d);

/** Every key under a prefix (recursive). */
export async function keys(driver: StorageDriver, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let startAfter: string | undefined;
  for (;;) {
    const page = await driver.list({ prefix, startAfter });
    for (const e of page.entries) if (!e.prefix) out.push(e.key);
    if (!page.next) return out;
    startAfter = page.next;
  }
}

/** A clock `ms` ahead of the real one. */
export const later = (ms: number) => () => Date.now() + ms;

type Hook = (key: string, other?: string) => Promise<void> | void;

/**
 * A driver that delegates to another and lets a test act at the exact moment
 * of a call (to play a concurrent push), and records deletes.
 */
export class HookDriver implements StorageDriver {
  readonly name: string;
  concatKeepsSources?: boolean;
  readonly calls: Array<{ op: string; key: string }> = [];
  before: { get?: Hook; put?: Hook; delete?: Hook; move?: Hook; copy?: Hook; deleteConcatSources?: Hook; list?: Hook; stat?: Hook } = {};
  constructor(readonly inner: StorageDriver) {
    this.name = `hooked ${inner.name}`;
    this.concatKeepsSources = inner.concatKeepsSources;
  }
  async list(o: Parameters<StorageDriver['list']>[0]) {
    await this.before.list?.(o.prefix);
    return this.inner.list(o);
  }
  async stat(key: string) {
    await this.before.stat?.(key);
    return this.inner.stat(key);
  }
  async get(key: string) {
    await this.before.get?.(key);
    return this.inner.get(key);
  }
  async put(key: string, body: Parameters<StorageDriver['put']>[1], options?: Parameters<StorageDriver['put']>[2]) {
    await this.before.put?.(key);
    return this.inner.put(key, body, options);
  }
  read(key: string, range?: Parameters<StorageDriver['read']>[1]) {
    return this.inner.read(key, range);
  }
  async delete(key: string) {
    await this.before.delete?.(key);
    this.calls.push({ op: 'delete', key });
    return this.inner.delete(key);
  }
  async move(from: string, to: string) {
    await this.before.move?.(from, to);
    this.calls.push({ op: 'move', key: from });
    return this.inner.move(from, to);
  }
  async copy(from: string, to: string) {
    await this.before.copy?.(from, to);
    this.calls.push({ op: 'copy', key: from });
    return copyObject(this.inner, from, to);
  }
  concat(to: string, sources: string[]) {
    return this.inner.concat(to, sources);
  }
  async deleteConcatSources(to: string, sources: string[]) {
    await this.before.deleteConcatSources?.(to);
    for (const k of sources) this.calls.push({ op: 'deleteConcatSources', key: k });
    return this.inner.deleteConcatSources(to, sources);
  }
  close() {
    return this.inner.close?.() ?? Promise.resolve();
  }
}

/**
 * A driver that makes the registry's objects (blobs, links, manifests, tags)
 * look `ageMs` older than they are, in stat and list — so a test can play
 * "pushed long ago" without waiting. Uploads, trash and markers keep their times.
 */
export class AgedDriver implements StorageDriver {
  readonly name: string;
  concatKeepsSources?: boolean;
  constructor(
    readonly inner: StorageDriver,
    readonly ageMs: number,
  ) {
    this.name = `aged ${inner.name}`;
    this.concatKeepsSources = inner.concatKeepsSources;
  }
  private aged(key: string): boolean {
    return /^[^/]+\/(blobs|repos)\//.test(key);
  }
  private shift(key: string, d: Date): Date {
    return this.aged(key) ? new Date(d.getTime() - this.ageMs) : d;
  }
  async list(o: Parameters<StorageDriver['list']>[0]) {
    const page = await this.inner.list(o);
    return { ...page, entries: page.entries.map((e) => (e.modified ? { ...e, modified: this.shift(e.key, e.modified) } : e)) };
  }
  async stat(key: string) {
    const st = await this.inner.stat(key);
    return st && { ...st, modified: this.shift(key, st.modified) };
  }
  get(key: string) {
    return this.inner.get(key);
  }
  async put(key: string, body: Parameters<StorageDriver['put']>[1], options?: Parameters<StorageDriver['put']>[2]) {
    const st = await this.inner.put(key, body, options);
    return { ...st, modified: this.shift(key, st.modified) };
  }
  read(key: string, range?: Parameters<StorageDriver['read']>[1]) {
    return this.inner.read(key, range);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  move(from: string, to: string) {
    return this.inner.move(from, to);
  }
  async copy(from: string, to: string) {
    const st = await copyObject(this.inner, from, to);
    return { ...st, modified: this.shift(to, st.modified) };
  }
  concat(to: string, sources: string[]) {
    return this.inner.concat(to, sources);
  }
  deleteConcatSources(to: string, sources: string[]) {
    return this.inner.deleteConcatSources(to, sources);
  }
  close() {
    return this.inner.close?.() ?? Promise.resolve();
  }
}
