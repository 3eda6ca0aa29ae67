// The `registry.storage` sections that put a `wharf serve` process on the
// Swift all-in-one (native Swift API or its S3 API), as a user writes them in
// YAML, plus teardown of the container/bucket a test used.
import { S3Driver } from '../../src/storage/s3.js';
import { SwiftDriver } from '../../src/storage/swift.js';
import { uniqueName, type SwiftEnv } from './swift.js';

export type ObjectStoreKind = 'swift' | 's3';
export const OBJECT_STORES: readonly ObjectStoreKind[] = ['swift', 's3'];

/**
 * The TempURL key the tests sign Swift redirects with. The Swift account has
 * two key slots (Temp-URL-Key, Temp-URL-Key-2) and a driver never replaces a
 * key it did not set, so every test uses this one (test/unit/swift.test.ts too).
 */
export const TEST_TEMP_URL_KEY = 'wharf-test-temp-url-key';

export interface ObjectStore {
  kind: ObjectStoreKind;
  /** Container (Swift) or bucket (S3) name. */
  name: string;
  /** `registry.storage` for the generated wharf.yaml. */
  storage(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Delete every object and the container(s)/bucket. */
  destroy(): Promise<void>;
}

export function objectStore(kind: ObjectStoreKind, env: SwiftEnv, prefix = 'wharf-e2e'): ObjectStore {
  const name = uniqueName(prefix);
  if (kind === 'swift') {
    return {
      kind,
      name,
      storage: (extra = {}) => ({
        driver: 'swift',
        'auth-url': env.authUrl,
        username: env.user,
        password: env.key,
        container: name,
        'temp-url-key': TEST_TEMP_URL_KEY,
        ...extra,
      }),
      destroy: () => new SwiftDriver({ authUrl: env.authUrl, username: env.user, password: env.key, container: name }).destroyContainer(),
    };
  }
  return {
    kind,
    name,
    storage: (extra = {}) => ({
      driver: 's3',
      endpoint: env.s3Endpoint,
      region: env.s3Region,
      bucket: name,
      'access-key': env.s3AccessKey,
      'secret-key': env.s3SecretKey,
      'force-path-style': true,
      ...extra,
    }),
    destroy: async () => {
      const d = new S3Driver({
        endpoint: env.s3Endpoint,
        region: env.s3Region,
        bucket: name,
        accessKey: env.s3AccessKey,
        secretKey: env.s3SecretKey,
        forcePathStyle: true,
      });
      try {
        await d.destroyBucket();
      } finally {
        await d.close();
      }
    },
  };
}

/** Request lines a Wharf process logged at debug level (`{"msg":"request",...}`). */
export interface LoggedRequest {
  method: string;
  url: string;
  status: number;
}

export function loggedRequests(output: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"request"')) continue;
    try {
      const j = JSON.parse(line) as { method?: string; url?: string; status?: number };
      if (j.method && j.url) out.push({ method: j.method, url: j.url, status: j.status ?? 0 });
    } catch {
      /* a partial line */
    }
  }
  return out;
}
