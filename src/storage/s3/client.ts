// The AWS SDK client as the S3 driver uses it (the SDK's own retries off:
// retry.ts decides), and how its errors read.
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { RetryPolicy } from '../retry.js';
import type { S3Config } from './config.js';

/** A client for `config` that makes one attempt per call, with timeouts from `policy`. */
export function makeS3Client(config: S3Config, policy: RetryPolicy): S3Client {
  const opts: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.forcePathStyle ?? !!config.endpoint,
    ...(config.accessKey !== undefined && config.secretKey !== undefined
      ? { credentials: { accessKeyId: config.accessKey, secretAccessKey: config.secretKey } }
      : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: policy.timeoutMs,
      // No socketTimeout: a reader that is slow to consume a body must not
      // count as a stalled backend. retry.ts's per-attempt abort signal and
      // watchBody's idle deadline (paused while the reader is behind) do it.
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
    },
  };
  if (config.endpoint) opts.endpoint = config.endpoint;
  const client = new S3Client(opts);
  addContentMd5ForDeleteObjects(client);
  return client;
}

function s3Status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export function isS3NotFound(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return s3Status(err) === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket';
}

export function isNoSuchBucket(err: unknown): boolean {
  return (err as { name?: string })?.name === 'NoSuchBucket';
}

export function isBadRange(err: unknown): boolean {
  return s3Status(err) === 416 || (err as { name?: string })?.name === 'InvalidRange';
}

/**
 * DeleteObjects: current SDKs send a CRC32 checksum instead of Content-MD5;
 * some S3-compatible stores (Swift 2.30's s3api) insist on Content-MD5. Add it.
 */
function addContentMd5ForDeleteObjects(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if ((context as { commandName?: string }).commandName === 'DeleteObjectsCommand') {
        const req = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
        const body = req?.body;
        if (req?.headers && (typeof body === 'string' || body instanceof Uint8Array)) {
          const has = Object.keys(req.headers).some((h) => h.toLowerCase() === 'content-md5');
          if (!has) req.headers['content-md5'] = createHash('md5').update(body).digest('base64');
        }
      }
      return next(args);
    },
    { step: 'build', name: 'wharfDeleteObjectsContentMd5', priority: 'low' },
  );
}
