// The S3 driver's settings (S3Config). Pure data: nothing here talks to S3.
import type { RetryOptions } from '../retry.js';

export interface S3Config extends RetryOptions {
  /** e.g. http://127.0.0.1:8080 for a local store; omitted for AWS. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** With secretKey; both unset: the SDK's default credential chain (AWS_* env, ~/.aws, instance role). */
  accessKey?: string;
  secretKey?: string;
  /** Path-style URLs (needed by most S3-compatible stores). Default: true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Most parts a multipart upload may have (AWS: 10000; Swift s3api: 1000, the default). */
  maxParts?: number;
  /** First part size for streamed puts (default and minimum 5 MiB; doubles every maxParts/4 parts). About 4 parts per upload are in memory at once. */
  partSize?: number;
  /** Parallel requests within one concat / cleanup (default 4). */
  concurrency?: number;
}
