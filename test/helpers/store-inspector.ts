// Read-only look into the storage a `wharf serve` process uses (filesystem
// root, or a Swift container / S3 bucket on the Swift all-in-one), through
// Wharf's own drivers: which keys exist, and whether every published blob
// hashes to its name.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { StorageDriver } from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { S3Driver } from '../../src/storage/s3.js';
import { SwiftDriver } from '../../src/storage/swift.js';
import type { SwiftEnv } from './swift.js';

export type InspectTarget = { kind: 'filesystem'; root: string } | { kind: 'swift' | 's3'; env: SwiftEnv; name: string };

export interface StoreInspector {
  driver: StorageDriver;
  /** Every object key under `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
  /** Reads every blob of namespace `ns` and asserts it hashes to its name; returns how many. */
  verifyBlobs(ns?: string): Promise<number>;
  close(): Promise<void>;
}

function driverFor(t: InspectTarget): StorageDriver {
  if (t.kind === 'filesystem') return new FilesystemDriver({ root: t.root, sweepTemp: false });
  if (t.kind === 'swift') {
    return new SwiftDriver({ authUrl: t.env.authUrl, username: t.env.user, password: t.env.key, container: t.name });
  }
  return new S3Driver({
    endpoint: t.env.s3Endpoint,
    region: t.env.s3Region,
    bucket: t.name,
    accessKey: t.env.s3AccessKey,
    secretKey: t.env.s3SecretKey,
    forcePathStyle: true,
  });
}

export function inspectorFor(t: InspectTarget): StoreInspector {
  const driver = driverFor(t);
  const keys = async (prefix: string): Promise<string[]> => {
    const out: string[] = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await driver.list({ prefix, startAfter });
      out.push(...page.entries.filter((e) => !e.prefix).map((e) => e.key));
      if (!page.next) return out.sort();
      startAfter = page.next;
    }
  };
  return {
    driver,
    keys,
    async verifyBlobs(ns = 'default') {
      let n = 0;
      for (const key of await keys(`${ns}/blobs/`)) {
        const [alg, hex] = key.slice(`${ns}/blobs/`.length).split('/') as [string, string];
        const h = createHash(alg);
        for await (const piece of await driver.read(key)) h.update(piece as Buffer);
        assert.equal(h.digest('hex'), hex, `stored blob ${key} hashes to its name`);
        n++;
      }
      return n;
    },
    close: async () => {
      await driver.close?.();
    },
  };
}
