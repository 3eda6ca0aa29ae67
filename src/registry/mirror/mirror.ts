// A mirror namespace: a namespace that stands in for an upstream registry.
// What the namespace holds (pushed to it, or cached from the upstream before)
// is served from it; everything else is fetched from the upstream, cached
// (verified first) and served. Pushes only ever go to the namespace, and a
// tag pushed there shadows the upstream's tag of the same name.
import { mapLimit } from '../../async/map-limit.js';
import type { Logger } from '../../log/logger.js';
import { blobExists, isBlobLinked, linkBlob, type BlobInfo } from '../blobs.js';
import { repoExists } from '../catalog.js';
import { RegistryError, isRegistryError } from '../errors.js';
import type { ParsedManifest } from '../manifest-parse.js';
import { getManifest, readManifestLink, type StoredManifest } from '../manifests.js';
import { isDigestReference, parseDigest, validateTag, type Digest } from '../names.js';
import type { Scope } from '../scope.js';
import { listTags, readTag } from '../tags.js';
import { fetchBlob, fetchManifest, type BlobTap } from './pull-through.js';
import type { MirrorSettings } from './settings.js';
import { SingleFlight } from './singleflight.js';
import { deleteCachedTag, isFresh, listCachedTags, readCachedTag, writeCachedTag, type CachedTag } from './tag-cache.js';
import { mergeTagPages } from './tag-list.js';
import { UpstreamClient, isUpstreamError } from './upstream-client.js';
import { ObservedUpstreamClient, type MirrorObserver } from './observer.js';

const DEFAULT_MANIFEST_MAX_BYTES = 4 * 1024 * 1024;
/** Blobs fetched at once when a pushed manifest names blobs only the upstream has. */
const REFERENCE_FETCH_CONCURRENCY = 4;

function isCode(err: unknown, code: string): boolean {
  return isRegistryError(err) && err.code === code;
}

export class Mirror {
  readonly client: UpstreamClient;
  private readonly flights = new SingleFlight();

  constructor(
    /** The namespace name. */
    readonly name: string,
    readonly settings: MirrorSettings,
    private readonly log?: Logger,
    private readonly manifestMaxBytes = DEFAULT_MANIFEST_MAX_BYTES,
    private readonly observer?: MirrorObserver,
  ) {
    this.client = observer ? new ObservedUpstreamClient(settings, name, observer) : new UpstreamClient(settings);
  }

  /** Report a read answered from the namespace (hit) or not (the HTTP layer reports blob reads it serves itself). */
  noteCache(kind: 'manifest' | 'blob', hit: boolean): void {
    this.observer?.cache(this.name, kind, hit);
  }

  /** Fetch a manifest from the upstream into the namespace, and report the fill. */
  private async fill(s: Scope, repo: string, reference: string): Promise<StoredManifest> {
    const m = await fetchManifest(this.client, s, repo, reference, this.manifestMaxBytes);
    this.observer?.filled(this.name, {
      scope: s,
      repo,
      kind: 'manifest',
      digest: m.digest.text,
      mediaType: m.mediaType,
      size: m.body.length,
    });
    return m;
  }

  close(): void {
    this.client.close();
  }

  /** Upstream fetches in progress in this process. */
  get inFlight(): number {
    return this.flights.size;
  }

  // -------------------------------------------------------------------------
  // Manifests

  private async local(s: Scope, repo: string, d: Digest): Promise<StoredManifest | null> {
    try {
      return await getManifest(s, repo, d.text);
    } catch (err) {
      if (isCode(err, 'MANIFEST_UNKNOWN')) return null;
      throw err;
    }
  }

  /**
   * A manifest by tag or digest: a tag pushed to the namespace first; then
   * what the namespace holds (by digest, or by a fresh cached upstream tag);
   * else the upstream, caching the manifest (untagged) and the tag's digest.
   */
  async getManifest(s: Scope, repo: string, reference: string): Promise<StoredManifest> {
    if (isDigestReference(reference)) {
      const d = parseDigest(reference);
      const held = await this.local(s, repo, d);
      this.noteCache('manifest', held !== null);
      if (held) return held;
      return this.flights.run(`manifest ${s.ns} ${repo} ${d.text}`, () => this.fill(s, repo, d.text)).result;
    }
    validateTag(reference);
    if (await readTag(s, repo, reference)) {
      this.noteCache('manifest', true);
      return getManifest(s, repo, reference); // pushed: shadows upstream
    }
    const cached = await readCachedTag(s, repo, reference);
    if (cached && isFresh(cached, this.settings.tagTtlMs)) {
      const held = await this.local(s, repo, parseDigest(cached.digest));
      if (held) {
        this.noteCache('manifest', true);
        return held;
      }
    }
    this.noteCache('manifest', false);
    return this.flights.run(`tag ${s.ns} ${repo} ${reference}`, () => this.refreshTag(s, repo, reference, cached)).result;
  }

  /** Ask the upstream what a tag points at now (cheaply, by HEAD, when the old answer is held). */
  private async refreshTag(s: Scope, repo: string, tag: string, cached: CachedTag | null): Promise<StoredManifest> {
    const held = cached ? await this.local(s, repo, parseDigest(cached.digest)) : null;
    try {
      if (cached && held) {
        const head = await this.client.manifest(repo, tag, 'HEAD', this.manifestMaxBytes);
        if (head?.digest === cached.digest) {
          await writeCachedTag(s, repo, tag, { digest: cached.digest, fetched: Date.now() });
          return held;
        }
      }
      const m = await this.fill(s, repo, tag);
      await writeCachedTag(s, repo, tag, { digest: m.digest.text, fetched: Date.now() });
      return m;
    } catch (err) {
      if (isUpstreamError(err) && err.transient && held) {
        this.log?.warn('mirror: upstream unavailable, serving the cached tag', {
          namespace: this.name,
          repo,
          tag,
          digest: cached!.digest,
          err: err.message,
        });
        return held;
      }
      if (isCode(err, 'MANIFEST_UNKNOWN') && cached) await deleteCachedTag(s, repo, tag).catch(() => undefined);
      throw err;
    }
  }

  // -------------------------------------------------------------------------
  // Blobs (callers have found the blob not linked into the repository)

  /** The upstream confirms `repo` has the blob: link the copy the namespace already holds. */
  private async confirmAndLink(s: Scope, repo: string, d: Digest): Promise<void> {
    const head = await this.client.blob(repo, d.text, 'HEAD');
    if (!head) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to the namespace and to its upstream', { digest: d.text });
    await linkBlob(s, repo, d);
  }

  /** Size of a blob the repository does not hold (HEAD): asked from the upstream, nothing fetched. */
  async headBlob(s: Scope, repo: string, d: Digest): Promise<BlobInfo> {
    const held = await blobExists(s, d);
    if (held) {
      await this.confirmAndLink(s, repo, d);
      return held;
    }
    const head = await this.client.blob(repo, d.text, 'HEAD');
    if (!head) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to the namespace and to its upstream', { digest: d.text });
    if (head.size === undefined) {
      // Without a size there is nothing to answer a HEAD with: fetch it.
      return this.ensureBlob(s, repo, d);
    }
    return { digest: d, size: head.size };
  }

  /**
   * Fetch a blob the repository does not hold, caching it. With a tap, the
   * bytes are streamed to it as they arrive — if this call leads the fetch.
   * Returns true when the tap was served; false when the caller should serve
   * the blob from storage (another request was fetching it, or the namespace
   * already had the bytes).
   */
  async pullBlob(s: Scope, repo: string, d: Digest, tap?: BlobTap): Promise<boolean> {
    if (await blobExists(s, d)) {
      if (!(await isBlobLinked(s, repo, d))) await this.confirmAndLink(s, repo, d);
      return false;
    }
    const { leader, result } = this.flights.run(`blob ${s.ns} ${d.text}`, async () => {
      const info = await fetchBlob(this.client, s, repo, d, tap);
      this.observer?.filled(this.name, { scope: s, repo, kind: 'blob', digest: d.text, size: info.size });
      return info;
    });
    await result;
    if (!leader && !(await isBlobLinked(s, repo, d))) await this.confirmAndLink(s, repo, d);
    return leader && tap !== undefined;
  }

  /** Make sure the repository holds the blob (fetching it when needed). */
  async ensureBlob(s: Scope, repo: string, d: Digest): Promise<BlobInfo> {
    const [linked, held] = await Promise.all([isBlobLinked(s, repo, d), blobExists(s, d)]);
    if (!linked || !held) await this.pullBlob(s, repo, d);
    const info = await blobExists(s, d);
    if (!info) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest: d.text });
    return info;
  }

  /**
   * A manifest pushed to the namespace may name blobs and manifests the
   * client never uploaded because a HEAD found them upstream: fetch those, so
   * the push's reference check passes. Failures are left to that check.
   */
  async fetchReferences(s: Scope, repo: string, parsed: ParsedManifest): Promise<void> {
    const jobs: Array<() => Promise<unknown>> = [
      ...parsed.blobs.map(
        ({ digest }) =>
          () =>
            this.ensureBlob(s, repo, digest),
      ),
      ...parsed.manifests.map(({ digest }) => async () => {
        if (!(await readManifestLink(s, repo, digest))) await this.getManifest(s, repo, digest.text);
      }),
    ];
    await mapLimit(jobs, REFERENCE_FETCH_CONCURRENCY, async (job) => {
      try {
        await job();
      } catch (err) {
        if (!isRegistryError(err)) throw err;
      }
    });
  }

  // -------------------------------------------------------------------------
  // Tags

  /**
   * The namespace's tags merged with the upstream's. With the upstream down,
   * the tags whose upstream answer is cached stand in for its list.
   */
  async listTags(s: Scope, repo: string, options: { limit?: number; last?: string }): Promise<{ tags: string[]; more: boolean }> {
    const [{ tags: local }, upstream] = await Promise.all([
      listTags(s, repo),
      this.client.tags(repo).catch(async (err: unknown) => {
        if (!isUpstreamError(err)) throw err;
        // Denied (Docker Hub's answer for a repository it does not have): the namespace's own tags,
        // if there are any; else the error, so a credentials problem is not hidden.
        if (!err.transient) {
          if (await repoExists(s, repo)) return null;
          throw err;
        }
        const cached = await listCachedTags(s, repo);
        if (cached.length === 0 && !(await repoExists(s, repo))) throw err;
        this.log?.warn('mirror: upstream unavailable, listing cached tags', { namespace: this.name, repo, err: err.message });
        return cached;
      }),
    ]);
    if (upstream === null && local.length === 0 && !(await repoExists(s, repo))) {
      throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry or to its upstream', { name: repo });
    }
    return mergeTagPages([local, upstream ?? []], options);
  }
}

/** The mirror namespaces of a configuration, by namespace name. */
export function createMirrors(
  settings: Record<string, MirrorSettings> | undefined,
  log?: Logger,
  manifestMaxBytes?: number,
  observer?: MirrorObserver,
): Map<string, Mirror> {
  const out = new Map<string, Mirror>();
  for (const [name, s] of Object.entries(settings ?? {})) out.set(name, new Mirror(name, s, log, manifestMaxBytes, observer));
  return out;
}
