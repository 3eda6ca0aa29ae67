// The two containers a driver uses — one for the objects, one for the
// segments of large objects — and the URL paths into them. They are created
// at the first write, and again when a write finds one gone.
import { checkKey, encodeKeyPath } from '../keys.js';
import type { CallOptions, Reply, SwiftTransport } from './transport.js';

export class SwiftContainers {
  /** Settles when both containers exist (as far as this driver knows); unset until the first write. */
  ready: Promise<void> | undefined;

  constructor(
    private readonly transport: SwiftTransport,
    /** Holds every object, under its key. */
    readonly objects: string,
    /** Holds the segments of large objects (and nested manifests), under random names. */
    readonly segments: string,
  ) {}

  /** URL path of the object at `key` (checked: URL normalisation would remap a bad one). */
  objectPath(key: string): string {
    checkKey(key);
    return `${encodeURIComponent(this.objects)}/${encodeKeyPath(key)}`;
  }

  /** URL path of the objects container (for listings). */
  containerPath(): string {
    return encodeURIComponent(this.objects);
  }

  /** URL path of the segment named `segKey` in the segments container. */
  segmentPath(segKey: string): string {
    return `${encodeURIComponent(this.segments)}/${encodeKeyPath(segKey)}`;
  }

  /** Create the containers (data and segments) once, at the first write, or again after a write found one missing. */
  ensure(): Promise<void> {
    if (!this.ready) {
      this.ready = (async () => {
        for (const name of [this.objects, this.segments]) {
          const what = `swift create container ${name}`;
          const r = await this.transport.call(what, 'PUT', { path: encodeURIComponent(name), idempotent: true });
          if (r.status !== 201 && r.status !== 202) throw this.transport.fail(what, r);
        }
      })();
      this.ready.catch(() => {
        this.ready = undefined;
      });
    }
    return this.ready;
  }

  /** Write call: containers created first; on 404 (container gone) re-created and retried once. */
  async write(what: string, method: string, o: CallOptions): Promise<Reply> {
    await this.ensure();
    let r = await this.transport.call(what, method, o);
    if (r.status === 404 && o.idempotent && !o.headers?.['X-Copy-From']) {
      this.ready = undefined;
      await this.ensure();
      r = await this.transport.call(what, method, o);
    }
    return r;
  }
}
