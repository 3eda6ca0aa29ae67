// What a stored manifest is made of, for people to read (the web UI): an
// index's platforms; an image's layers, total size and the details of its
// config (architecture, OS, created, entrypoint, command, environment,
// labels, history); its referrers grouped by artifactType.
//
// Only what the repository may serve is read (its manifests, the blobs it
// links), and config fields are copied one by one with their expected types:
// whatever else a config holds is never passed on.
import { createHash } from 'node:crypto';
import { isBlobLinked } from './blobs.js';
import { RegistryError } from './errors.js';
import type { Blob, ChildManifest, HistoryEntry, ImageDetails, ManifestDescription, ManifestSummary, ReferrerGroup } from './described.js';
import { layout } from './layout.js';
import type { Descriptor } from './manifest-parse.js';
import { getManifest, readManifestLink, resolveReference, type ManifestLink } from './manifests.js';
import { isIndexType } from './media-types.js';
import { parseDigest, type Digest } from './names.js';
import { listReferrers } from './referrers.js';
import type { Scope } from './scope.js';

/** Config media types whose JSON is an image configuration. */
export const IMAGE_CONFIG_TYPES: readonly string[] = [
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
];

/** Configs larger than this are not read for details. */
const MAX_CONFIG_BYTES = 1024 * 1024;
/** History entries and environment variables shown at most. */
const MAX_ENTRIES = 1000;
/** An index with more children than this gets no total size (each child is one more read). */
export const MAX_SIZED_CHILDREN = 32;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strList(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, MAX_ENTRIES) : undefined;
}

function strMap(v: unknown): Record<string, string> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function keysOf(v: unknown): string[] | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v).slice(0, MAX_ENTRIES) : undefined;
}

function blob(v: unknown): Blob | null {
  if (typeof v !== 'object' || v === null) return null;
  const d = v as Record<string, unknown>;
  const digest = str(d.digest);
  const mediaType = str(d.mediaType);
  const size = typeof d.size === 'number' && Number.isSafeInteger(d.size) && d.size >= 0 ? d.size : undefined;
  if (!digest || !mediaType || size === undefined) return null;
  const annotations = strMap(d.annotations);
  return { digest, mediaType, size, ...(annotations ? { annotations } : {}) };
}

function platformText(p: ChildManifest['platform']): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/') || 'unknown';
}

/** The image details of a config document (only the known fields, with their types). */
export function imageDetails(doc: unknown): ImageDetails {
  const c = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const cfg = (typeof c.config === 'object' && c.config !== null ? c.config : {}) as Record<string, unknown>;
  const history = Array.isArray(c.history)
    ? c.history.slice(0, MAX_ENTRIES).map((h): HistoryEntry => {
        const e = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
        return {
          created: str(e.created),
          createdBy: str(e.created_by),
          comment: str(e.comment),
          author: str(e.author),
          emptyLayer: e.empty_layer === true ? true : undefined,
        };
      })
    : undefined;
  return {
    architecture: str(c.architecture),
    os: str(c.os),
    variant: str(c.variant),
    created: str(c.created),
    author: str(c.author),
    user: str(cfg.User),
    workingDir: str(cfg.WorkingDir),
    entrypoint: strList(cfg.Entrypoint),
    cmd: strList(cfg.Cmd),
    env: strList(cfg.Env),
    labels: strMap(cfg.Labels),
    exposedPorts: keysOf(cfg.ExposedPorts),
    volumes: keysOf(cfg.Volumes),
    stopSignal: str(cfg.StopSignal),
    history,
  };
}

interface Loaded {
  digest: Digest;
  link: ManifestLink;
  doc: Record<string, unknown>;
}

/** A manifest the repository holds, parsed; null when it does not hold it (or its body is unreadable). */
async function load(s: Scope, repo: string, digest: Digest): Promise<Loaded | null> {
  let m: Awaited<ReturnType<typeof getManifest>>;
  try {
    m = await getManifest(s, repo, digest.text); // hashed: damaged bytes are never shown
  } catch (err) {
    if (err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN') return null;
    throw err;
  }
  try {
    const doc = JSON.parse(m.body.toString('utf8')) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
    return { digest, link: m.link, doc: doc as Record<string, unknown> };
  } catch {
    return null;
  }
}

function children(m: Loaded): Array<Omit<ChildManifest, 'held'>> {
  if (!Array.isArray(m.doc.manifests)) return [];
  return m.doc.manifests.flatMap((v) => {
    const b = blob(v);
    if (!b) return [];
    const d = v as Record<string, unknown>;
    const p = typeof d.platform === 'object' && d.platform !== null ? (d.platform as Record<string, unknown>) : undefined;
    const platform = p
      ? { architecture: str(p.architecture), os: str(p.os), variant: str(p.variant), 'os.version': str(p['os.version']) }
      : undefined;
    return [{ ...b, ...(platform ? { platform } : {}), ...(str(d.artifactType) ? { artifactType: str(d.artifactType) } : {}) }];
  });
}

function imageParts(m: Loaded): { config?: Blob; layers: Blob[]; total: number } {
  const config = blob(m.doc.config) ?? undefined;
  const layers = Array.isArray(m.doc.layers) ? m.doc.layers.map(blob).filter((b): b is Blob => b !== null) : [];
  const total = m.link.size + (config?.size ?? 0) + layers.reduce((n, l) => n + l.size, 0);
  return { config, layers, total };
}

/**
 * Media type, total size and platforms of a manifest the repository holds
 * (null when it does not). An index's total adds its held children (one
 * read each, at most MAX_SIZED_CHILDREN of them).
 */
export async function summarizeManifest(s: Scope, repo: string, digest: Digest): Promise<ManifestSummary | null> {
  const m = await load(s, repo, digest);
  if (!m) return null;
  const base = {
    mediaType: m.link.mediaType,
    size: m.link.size,
    ...(m.link.artifactType ? { artifactType: m.link.artifactType } : {}),
    ...(m.link.origin === 'upstream' ? { origin: 'upstream' as const } : {}),
  };
  if (!isIndexType(m.link.mediaType)) return { ...base, totalSize: imageParts(m).total };
  const list = children(m);
  const platforms = list.filter((c) => !c.artifactType).map((c) => platformText(c.platform));
  if (list.length > MAX_SIZED_CHILDREN) return { ...base, platforms };
  const loaded = await loadChildren(s, repo, list);
  return { ...base, platforms, totalSize: indexTotal(m, list, loaded) };
}

/** The children the repository holds, loaded (null: not held, or unreadable). */
function loadChildren(s: Scope, repo: string, list: Blob[]): Promise<Array<Loaded | null>> {
  return Promise.all(list.map((c) => load(s, repo, parseDigest(c.digest)).catch(() => null)));
}

/** An index's bytes: itself plus each child's total (its descriptor's size when not held). */
function indexTotal(m: Loaded, list: Blob[], loaded: Array<Loaded | null>): number {
  return list.reduce((n, c, i) => {
    const child = loaded[i];
    return n + (child && !isIndexType(child.link.mediaType) ? imageParts(child).total : c.size);
  }, m.link.size);
}

async function readConfig(s: Scope, repo: string, config: Blob): Promise<{ image?: ImageDetails; problem?: string }> {
  let d: Digest;
  try {
    d = parseDigest(config.digest);
  } catch {
    return { problem: 'the config digest is invalid' };
  }
  // The same rule as a blob GET: only what the repository links.
  if (!(await isBlobLinked(s, repo, d))) return { problem: 'the config blob is not in this repository' };
  const info = await s.driver.stat(layout.blob(s.ns, d));
  if (!info) return { problem: 'the config blob is missing' };
  if (info.size > MAX_CONFIG_BYTES) return { problem: `the config is larger than ${MAX_CONFIG_BYTES} bytes` };
  const raw = await s.driver.get(layout.blob(s.ns, d));
  if (!raw) return { problem: 'the config blob is missing' };
  if (createHash(d.algorithm).update(raw).digest('hex') !== d.hex) return { problem: 'the stored config does not match its digest' };
  try {
    return { image: imageDetails(JSON.parse(raw.toString('utf8'))) };
  } catch {
    return { problem: 'the config is not valid JSON' };
  }
}

function groupReferrers(list: Descriptor[]): ReferrerGroup[] {
  const groups = new Map<string, Descriptor[]>();
  for (const d of list) {
    const key = d.artifactType ?? d.mediaType;
    const g = groups.get(key);
    if (g) g.push(d);
    else groups.set(key, [d]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([artifactType, manifests]) => ({ artifactType, manifests }));
}

/** Everything the UI shows about a manifest, by tag or digest. MANIFEST_UNKNOWN when the repository does not hold it. */
export async function describeManifest(s: Scope, repo: string, reference: string): Promise<ManifestDescription> {
  const digest = await resolveReference(s, repo, reference);
  const m = await load(s, repo, digest);
  if (!m) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { reference });
  const referrers = groupReferrers(await listReferrers(s, repo, digest));
  const annotations = strMap(m.doc.annotations);
  const subject = blob(m.doc.subject)?.digest;
  const out: ManifestDescription = {
    digest: digest.text,
    mediaType: m.link.mediaType,
    size: m.link.size,
    pushed: m.link.pushed,
    ...(m.link.origin === 'upstream' ? { origin: 'upstream' as const } : {}),
    kind: 'artifact',
    ...(subject ? { subject } : {}),
    ...(annotations ? { annotations } : {}),
    referrers,
  };
  if (isIndexType(m.link.mediaType)) {
    const list = children(m);
    // Every child is read (to tell whether it is held) only up to MAX_SIZED_CHILDREN; beyond, only its link.
    const small = list.length <= MAX_SIZED_CHILDREN;
    const loaded = small ? await loadChildren(s, repo, list) : [];
    const held = small
      ? loaded.map((l) => l !== null)
      : await Promise.all(
          list.map((c) =>
            readManifestLink(s, repo, parseDigest(c.digest)).then(
              (l) => l !== null,
              () => false,
            ),
          ),
        );
    return {
      ...out,
      kind: 'index',
      ...(str(m.doc.artifactType) ? { artifactType: str(m.doc.artifactType) } : {}),
      manifests: list.map((c, i) => ({ ...c, held: held[i]! })),
      ...(small ? { totalSize: indexTotal(m, list, loaded) } : {}),
    };
  }
  const { config, layers, total } = imageParts(m);
  const isImage = config !== undefined && IMAGE_CONFIG_TYPES.includes(config.mediaType) && !str(m.doc.artifactType);
  const details = isImage ? await readConfig(s, repo, config) : {};
  // An artifact's type: its artifactType, else its config's media type (the OCI 1.1 rule).
  const artifactType = isImage ? undefined : (str(m.doc.artifactType) ?? config?.mediaType);
  return {
    ...out,
    kind: isImage ? 'image' : 'artifact',
    ...(artifactType ? { artifactType } : {}),
    ...(config ? { config } : {}),
    layers,
    totalSize: total,
    ...(details.image ? { image: details.image } : {}),
    ...(details.problem ? { imageProblem: details.problem } : {}),
  };
}
