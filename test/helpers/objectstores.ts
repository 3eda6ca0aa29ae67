// The `registry.storage` sections that put a `wharf serve` process on the
// Swift all-in-one (native Swift API or its S3 API), as a user writes them in
// YAML, teardown of the container/bucket a test used, Wharf's debug request
// log, a private Swift all-in-one a test may stop and restart, and drivers
// on the shared one for the driver suite.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Driver } from '../../src/storage/s3.js';
import { SwiftDriver } from '../../src/storage/swift.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import type { DriverUnderTest } from '../unit/driver-suite.js';
import { ensureSwift, parseExportLine, uniqueName, type SwiftEnv } from './swift.js';
import { destroySwiftContainers } from './swift-driver.js';
import { destroyS3Bucket } from './s3-driver.js';
import { freePort, REPO_ROOT } from './wharf.js';

export type ObjectStoreKind = 'swift' | 's3';
export const OBJECT_STORES: readonly ObjectStoreKind[] = ['swift', 's3'];

/**
 * The TempURL key the tests sign Swift redirects with. The Swift account has
 * two key slots (Temp-URL-Key, Temp-URL-Key-2) and a driver never replaces a
 * key it did not set, so every test uses this one (test/objectstores/swift.test.ts too).
 */
export const TEST_TEMP_URL_KEY = 'wharf-test-temp-url-key';

/**
 * A `makeDriver` for runDriverSuite: `make` a driver on the shared Swift
 * all-in-one (its Swift or its S3 API), and `destroy` what it stored when the
 * suite is done.
 */
export function sharedStoreDriver<D extends StorageDriver>(make: (env: SwiftEnv) => D, destroy: (d: D) => Promise<void>) {
  return async (): Promise<DriverUnderTest> => {
    const driver = make(await ensureSwift());
    return { driver, cleanup: () => destroy(driver) };
  };
}

/**
 * Teardowns a test file adds as it makes drivers; run() (its `after`) runs
 * them all, last first, and fails if any failed: a test must not leave
 * containers or buckets behind.
 */
export function teardowns(): { add(fn: () => Promise<unknown>): void; run(): Promise<void> } {
  const list: (() => Promise<unknown>)[] = [];
  return {
    add: (fn) => void list.push(fn),
    async run() {
      const errors: unknown[] = [];
      for (const c of list.reverse()) await c().catch((err: unknown) => errors.push(err));
      if (errors.length) throw new AggregateError(errors, `${errors.length} cleanup(s) failed`);
    },
  };
}

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
      destroy: () =>
        destroySwiftContainers(new SwiftDriver({ authUrl: env.authUrl, username: env.user, password: env.key, container: name })),
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
        await destroyS3Bucket(d);
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

// ------------------------------------------------- a private Swift all-in-one

export interface PrivateSwift {
  env: SwiftEnv;
  /** State dir (SWIFT_SAIO_DIR). */
  dir: string;
  /** scripts/swift/stop.sh: every server of this all-in-one exits; data stays. */
  stop(): Promise<void>;
  /** scripts/swift/start.sh again (same ports, same data). */
  start(): Promise<void>;
  /** Stop and delete the state dir. */
  purge(): Promise<void>;
}

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((res, rej) => {
    execFile('bash', [script, ...args], { env, timeout: 150_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${script} ${args.join(' ')} failed: ${String(err)}\n${stderr.slice(-3000)}`));
      else res(stdout);
    });
  });
}

/**
 * A Swift all-in-one of the test's own (own state dir, own free ports), so a
 * test may stop and restart the store without disturbing the shared one
 * other tests use. Starting takes a few seconds (~8 s on a loaded machine).
 */
export async function startPrivateSwift(): Promise<PrivateSwift> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-private-saio-'));
  const ports: number[] = [];
  while (ports.length < 4) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const scriptEnv: NodeJS.ProcessEnv = {
    ...process.env,
    SWIFT_SAIO_DIR: dir,
    SWIFT_PORT: String(ports[0]),
    SWIFT_ACCOUNT_PORT: String(ports[1]),
    SWIFT_CONTAINER_PORT: String(ports[2]),
    SWIFT_OBJECT_PORT: String(ports[3]),
  };
  const start = join(REPO_ROOT, 'scripts', 'swift', 'start.sh');
  const stop = join(REPO_ROOT, 'scripts', 'swift', 'stop.sh');
  let raw: Record<string, string>;
  try {
    raw = parseExportLine(await runScript(start, [], scriptEnv));
  } catch (err) {
    await runScript(stop, ['--purge'], scriptEnv).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const env: SwiftEnv = {
    authUrl: raw.SWIFT_AUTH_URL!,
    user: raw.SWIFT_USER!,
    key: raw.SWIFT_KEY!,
    storageUrl: raw.SWIFT_STORAGE_URL!,
    s3Endpoint: raw.S3_ENDPOINT!,
    s3AccessKey: raw.S3_ACCESS_KEY!,
    s3SecretKey: raw.S3_SECRET_KEY!,
    s3Region: raw.S3_REGION!,
    raw,
  };
  return {
    env,
    dir,
    stop: async () => {
      await runScript(stop, [], scriptEnv);
    },
    start: async () => {
      await runScript(start, [], scriptEnv);
    },
    purge: async () => {
      await runScript(stop, ['--purge'], scriptEnv);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
