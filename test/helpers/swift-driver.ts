// Test-only access to a SwiftDriver's parts (kept off the production class):
// its session, its containers and settings, and teardown of its containers.
import type { Session } from '../../src/storage/swift/auth.js';
import type { SwiftConfig, SwiftSettings } from '../../src/storage/swift/config.js';
import type { SwiftContainers } from '../../src/storage/swift/containers.js';
import type { SwiftTransport } from '../../src/storage/swift/transport.js';
import { mapLimit } from '../../src/async/map-limit.js';
import { encodeKeyPath } from '../../src/storage/keys.js';
import type { SwiftDriver } from '../../src/storage/swift.js';

/** The driver's private parts, by the names it keeps them under. */
export interface SwiftDriverParts {
  cfg: SwiftConfig;
  settings: SwiftSettings;
  transport: SwiftTransport;
  containers: SwiftContainers;
}

export function swiftParts(d: SwiftDriver): SwiftDriverParts {
  return d as unknown as SwiftDriverParts;
}

/** The session the driver uses now (a test may spoil its token), or undefined before the first request. */
export function swiftSession(d: SwiftDriver): Session | undefined {
  return swiftParts(d).transport.auth.current;
}

/** The current storage URL and token (authenticating if needed). */
export async function swiftAuthInfo(d: SwiftDriver): Promise<{ storageUrl: string; token: string }> {
  const s = await swiftParts(d).transport.auth.get();
  return { storageUrl: s.storageUrl, token: s.token };
}

/** Delete every object and then the driver's containers themselves, through the driver's own connection. */
export async function destroySwiftContainers(d: SwiftDriver): Promise<void> {
  const { transport, containers, settings } = swiftParts(d);
  for (const name of [containers.objects, containers.segments]) {
    const what = `swift destroy container ${name}`;
    const cpath = encodeURIComponent(name);
    for (;;) {
      const r = await transport.call(what, 'GET', { path: cpath, query: { format: 'json', limit: '1000' }, idempotent: true });
      if (r.status === 404) break;
      if (r.status >= 300) throw transport.fail(what, r);
      const rows = r.status === 204 || !r.body.length ? [] : (JSON.parse(r.body.toString('utf8')) as { name: string }[]);
      if (rows.length === 0) break;
      await mapLimit(rows, settings.concurrency, async (row) => {
        const del = await transport.call(what, 'DELETE', { path: `${cpath}/${encodeKeyPath(row.name)}`, idempotent: true });
        if (del.status >= 300 && del.status !== 404) throw transport.fail(what, del);
      });
    }
    const del = await transport.call(what, 'DELETE', { path: cpath, idempotent: true });
    if (del.status >= 300 && del.status !== 404) throw transport.fail(what, del);
  }
  containers.ready = undefined;
}
