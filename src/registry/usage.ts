// Storage use of a namespace and of each repository in it: the bytes a
// repository holds alone and the bytes it shares with other repositories.
//
// Computing it walks the whole namespace (every stored blob, every
// repository's links), so it is never done for a page view: the result is
// kept in the store (layout.usageSummary) with the time it was computed, so
// every replica shows the same figures "as of" that time, and a new one is
// computed in the background when it gets old (usage-tracker.ts).
//
// What counts: a repository holds the blobs it links (`_blobs/`: layers and
// configs) and the manifests it holds (`_manifests/`: their bodies are blobs
// too), each once. A blob linked by exactly one repository is unique to it;
// linked by several, it is shared (its full size counts as shared in each).
// Repositories are found the way prune finds them (prune/walk.ts), so a
// repository whose first push is still running counts too.
import type { StorageDriver } from '../storage/driver.js';
import { layout } from './layout.js';
import { digestFromKey, repositories } from './prune/walk.js';
import { listAll } from './scope.js';

export interface RepoUsage {
  name: string;
  /** Bytes of the blobs and manifests only this repository links. */
  unique: number;
  /** Bytes of the blobs and manifests this repository links that other repositories link too. */
  shared: number;
  /** Distinct blobs (layers, configs, manifest bodies) the repository links. */
  blobs: number;
}

export interface UsageSummary {
  version: 1;
  namespace: string;
  /** When the walk started (ms since epoch): the figures are at least this recent. */
  computedAt: number;
  /** How long the walk took (ms). */
  tookMs: number;
  /** Every blob stored in the namespace. */
  stored: { blobs: number; bytes: number };
  /** Bytes of stored blobs at least one repository links. */
  referencedBytes: number;
  /** Bytes of stored blobs no repository links: garbage the next prune removes, or a push in progress. */
  unreferencedBytes: number;
  /** By name. */
  repositories: RepoUsage[];
}

/**
 * The digests of a namespace with their sizes and how many repositories link
 * each, in typed arrays: 12 bytes a blob plus the map from digest to slot.
 */
class BlobTable {
  private readonly slots = new Map<string, number>();
  private sizes = new Float64Array(1024);
  private refs = new Uint32Array(1024);

  get count(): number {
    return this.slots.size;
  }

  add(digest: string, size: number): void {
    if (this.slots.has(digest)) return;
    const i = this.slots.size;
    if (i === this.sizes.length) {
      const sizes = new Float64Array(i * 2);
      sizes.set(this.sizes);
      this.sizes = sizes;
      const refs = new Uint32Array(i * 2);
      refs.set(this.refs);
      this.refs = refs;
    }
    this.slots.set(digest, i);
    this.sizes[i] = size;
  }

  slot(digest: string): number | undefined {
    return this.slots.get(digest);
  }

  reference(slot: number): void {
    this.refs[slot]!++;
  }

  size(slot: number): number {
    return this.sizes[slot]!;
  }

  references(slot: number): number {
    return this.refs[slot]!;
  }
}

/** The digest slots a repository links (blob links and manifest links), each once. */
async function repoSlots(driver: StorageDriver, ns: string, repo: string, table: BlobTable): Promise<Uint32Array> {
  const seen = new Set<number>();
  for (const prefix of [layout.repoBlobLinks(ns, repo), layout.manifestLinks(ns, repo)]) {
    for await (const e of listAll(driver, prefix, { delimiter: '/' })) {
      if (e.prefix) continue;
      const digest = digestFromKey(e.key);
      // A link whose blob is gone has no bytes to count.
      const slot = digest === null ? undefined : table.slot(digest);
      if (slot !== undefined) seen.add(slot);
    }
  }
  return Uint32Array.from(seen);
}

/** Walk namespace `ns` and compute its storage use (reads only). */
export async function computeUsage(driver: StorageDriver, ns: string, now: () => number = Date.now): Promise<UsageSummary> {
  const started = now();
  const table = new BlobTable();
  let storedBytes = 0;
  const blobsRoot = `${ns}/blobs/`;
  for await (const dir of listAll(driver, blobsRoot, { delimiter: '/' })) {
    if (!dir.prefix) continue;
    const algorithm = dir.key.slice(blobsRoot.length, -1);
    for await (const e of listAll(driver, layout.blobsOf(ns, algorithm), { delimiter: '/' })) {
      if (e.prefix) continue;
      const size = e.size ?? 0;
      table.add(`${algorithm}:${e.key.slice(dir.key.length)}`, size);
      storedBytes += size;
    }
  }
  const linked: Array<{ name: string; slots: Uint32Array }> = [];
  for await (const name of repositories(driver, ns)) {
    const slots = await repoSlots(driver, ns, name, table);
    for (const s of slots) table.reference(s);
    linked.push({ name, slots });
  }
  let referencedBytes = 0;
  const counted = new Set<number>();
  const repos: RepoUsage[] = linked.map(({ name, slots }) => {
    let unique = 0;
    let shared = 0;
    for (const s of slots) {
      if (table.references(s) > 1) shared += table.size(s);
      else unique += table.size(s);
      if (!counted.has(s)) {
        counted.add(s);
        referencedBytes += table.size(s);
      }
    }
    return { name, unique, shared, blobs: slots.length };
  });
  repos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    version: 1,
    namespace: ns,
    computedAt: started,
    tookMs: now() - started,
    stored: { blobs: table.count, bytes: storedBytes },
    referencedBytes,
    unreferencedBytes: storedBytes - referencedBytes,
    repositories: repos,
  };
}

export async function writeUsage(driver: StorageDriver, summary: UsageSummary): Promise<void> {
  // A cache that can be computed again: no need to wait for stable storage.
  await driver.put(layout.usageSummary(summary.namespace), Buffer.from(JSON.stringify(summary)), { durable: false });
}

/** The stored summary of `ns`, or null when there is none (or it is unreadable). */
export async function readUsage(driver: StorageDriver, ns: string): Promise<UsageSummary | null> {
  const raw = await driver.get(layout.usageSummary(ns));
  return raw ? parseUsage(raw, ns) : null;
}

export function parseUsage(raw: Buffer, ns: string): UsageSummary | null {
  try {
    const s = JSON.parse(raw.toString('utf8')) as UsageSummary;
    if (s.version !== 1 || s.namespace !== ns || !Number.isFinite(s.computedAt) || !Array.isArray(s.repositories)) return null;
    return s;
  } catch {
    return null;
  }
}
