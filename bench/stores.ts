// Where the benchmarked registries keep their data: the filesystem (the
// default: a fresh directory per server start, same filesystem for both), or
// `--store s3`: the Swift all-in-one's S3 API on loopback (scripts/swift/
// start.sh), a fresh bucket per server start, the same endpoint and
// credentials for Wharf (`driver: s3`) and Distribution (its `s3` driver).
// Neither redirects blob GETs to the store: both proxy the bytes, so a pull
// measures the registry, not the store alone.
import { S3Driver } from '../src/storage/s3.js';
import { destroyS3Bucket } from '../test/helpers/s3-driver.js';
import { ensureSwift, uniqueName, type SwiftEnv } from '../test/helpers/swift.js';

export type BenchStoreKind = 'fs' | 's3';
export const BENCH_STORES: readonly BenchStoreKind[] = ['fs', 's3'];

/** One server start's storage: the config sections, and teardown. */
export interface BenchStorage {
  /** Wharf's `registry.storage`, or undefined for the filesystem default. */
  wharf?: Record<string, unknown>;
  /** Distribution's `storage` driver section (e.g. `{ s3: {...} }`), or undefined for its filesystem default. */
  distribution?: Record<string, unknown>;
  destroy(): Promise<void>;
}

export interface BenchStore {
  kind: BenchStoreKind;
  /** For the report. */
  describe: string;
  open(): Promise<BenchStorage>;
}

export async function benchStore(kind: BenchStoreKind): Promise<BenchStore> {
  if (kind === 'fs') {
    return {
      kind,
      describe: 'filesystem (a fresh directory per server start, both on the same filesystem)',
      open: async () => ({ destroy: async () => {} }),
    };
  }
  const env = await ensureSwift();
  return {
    kind,
    describe: `S3 API of the Swift all-in-one at ${env.s3Endpoint} (a fresh bucket per server start; no redirects)`,
    open: () => openS3(env),
  };
}

async function openS3(env: SwiftEnv): Promise<BenchStorage> {
  const bucket = uniqueName('wharf-bench');
  const driver = new S3Driver({
    endpoint: env.s3Endpoint,
    region: env.s3Region,
    bucket,
    accessKey: env.s3AccessKey,
    secretKey: env.s3SecretKey,
    forcePathStyle: true,
  });
  // Distribution's s3 driver does not create its bucket: a first write through ours does.
  await driver.put('bench-bucket-ready', Buffer.alloc(0));
  await driver.delete('bench-bucket-ready');
  return {
    wharf: {
      driver: 's3',
      endpoint: env.s3Endpoint,
      region: env.s3Region,
      bucket,
      'access-key': env.s3AccessKey,
      'secret-key': env.s3SecretKey,
      'force-path-style': true,
    },
    distribution: {
      s3: {
        accesskey: env.s3AccessKey,
        secretkey: env.s3SecretKey,
        region: env.s3Region,
        regionendpoint: env.s3Endpoint,
        bucket,
        secure: env.s3Endpoint.startsWith('https:'),
        v4auth: true,
      },
      redirect: { disable: true },
    },
    destroy: async () => {
      try {
        await destroyS3Bucket(driver);
      } finally {
        await driver.close();
      }
    },
  };
}
