// Test-only access to an S3Driver's parts (kept off the production class):
// its settings, and teardown of its bucket.
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { AttemptContext } from '../../src/storage/retry.js';
import { isNoSuchBucket } from '../../src/storage/s3/client.js';
import type { S3Config, S3Driver } from '../../src/storage/s3.js';

/** The driver's private parts, by the names it keeps them under. */
export interface S3DriverParts {
  cfg: S3Config;
  bucket: string;
  client: S3Client;
  bucketReady: Promise<void> | undefined;
  send<T>(what: string, idempotent: boolean, fn: (ctx: AttemptContext) => Promise<T>): Promise<T>;
  deleteMany(what: string, keys: string[]): Promise<void>;
}

export function s3Parts(d: S3Driver): S3DriverParts {
  return d as unknown as S3DriverParts;
}

/** Empty the driver's bucket (objects and unfinished multipart uploads) and delete it, through the driver's own client. */
export async function destroyS3Bucket(driver: S3Driver): Promise<void> {
  const d = s3Parts(driver);
  const what = `s3 destroy bucket ${d.bucket}`;
  for (;;) {
    const page = await d.send(what, true, async ({ signal }) => {
      try {
        return await d.client.send(new ListObjectsV2Command({ Bucket: d.bucket, MaxKeys: 1000 }), { abortSignal: signal });
      } catch (err) {
        if (isNoSuchBucket(err)) return null;
        throw err;
      }
    });
    if (!page) return;
    const keys = (page.Contents ?? []).map((o) => o.Key!).filter(Boolean);
    if (keys.length === 0) break;
    await d.deleteMany(what, keys);
  }
  const uploads = await d.send(what, true, ({ signal }) =>
    d.client.send(new ListMultipartUploadsCommand({ Bucket: d.bucket }), { abortSignal: signal }),
  );
  for (const u of uploads.Uploads ?? []) {
    await d.client.send(new AbortMultipartUploadCommand({ Bucket: d.bucket, Key: u.Key, UploadId: u.UploadId })).catch(() => undefined);
  }
  await d.send(what, true, async ({ signal }) => {
    try {
      await d.client.send(new DeleteBucketCommand({ Bucket: d.bucket }), { abortSignal: signal });
    } catch (err) {
      if (!isNoSuchBucket(err)) throw err;
    }
  });
  d.bucketReady = undefined;
}
