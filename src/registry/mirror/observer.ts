// What a mirror namespace reports as it works (the metrics count it, the
// events announce fills): exchanges with the upstream, reads answered from
// the namespace or not, and content fetched, verified and stored.
import { UpstreamClient, isUpstreamError, type BlobAnswer, type ManifestAnswer } from './upstream-client.js';
import type { MirrorSettings } from './settings.js';
import type { Scope } from '../scope.js';

export type UpstreamKind = 'manifest' | 'blob' | 'tags';

export interface MirrorFill {
  /** The scope of the request that led the fetch. */
  scope: Scope;
  repo: string;
  kind: 'manifest' | 'blob';
  digest: string;
  /** Manifests only. */
  mediaType?: string;
  size: number;
}

export interface MirrorObserver {
  /** An exchange with the upstream ended: answered (ok), not there (not_found), or failed (with why). */
  upstream(ns: string, kind: UpstreamKind, outcome: 'ok' | 'not_found' | 'error', failure?: string): void;
  /** A read the namespace could answer itself (hit) or that needed the upstream (miss). */
  cache(ns: string, kind: 'manifest' | 'blob', hit: boolean): void;
  /** Content from the upstream was verified and stored in the namespace. */
  filled(ns: string, fill: MirrorFill): void;
}

/** An upstream client that reports each exchange. */
export class ObservedUpstreamClient extends UpstreamClient {
  constructor(
    settings: MirrorSettings,
    private readonly ns: string,
    private readonly observer: MirrorObserver,
  ) {
    super(settings);
  }

  private async observe<T>(kind: UpstreamKind, run: Promise<T | null>): Promise<T | null> {
    try {
      const v = await run;
      this.observer.upstream(this.ns, kind, v === null ? 'not_found' : 'ok');
      return v;
    } catch (err) {
      this.observer.upstream(this.ns, kind, 'error', isUpstreamError(err) ? err.failure : 'other');
      throw err;
    }
  }

  override manifest(repo: string, reference: string, method: 'GET' | 'HEAD', maxBytes: number): Promise<ManifestAnswer | null> {
    return this.observe('manifest', super.manifest(repo, reference, method, maxBytes));
  }

  override blob(repo: string, digest: string, method: 'GET' | 'HEAD'): Promise<BlobAnswer | null> {
    return this.observe('blob', super.blob(repo, digest, method));
  }

  override tags(repo: string): Promise<string[] | null> {
    return this.observe('tags', super.tags(repo));
  }
}
