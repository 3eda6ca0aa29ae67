// The S3 driver's settings (S3Config), and how the keys of
// `registry.storage` become them (s3Options: adding an S3 option touches this
// file only). Pure data and parsing: nothing here talks to S3, and the config
// reader imports it.
import type { DriverOptions } from '../options.js';
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
  /** First part size for streamed puts (default and minimum 5 MiB; doubles every maxParts/4 parts); a body up to 10 MiB (or two parts) is one PutObject. About 4 parts per upload are in memory at once. */
  partSize?: number;
  /** Parallel requests within one concat / cleanup (default 4). */
  concurrency?: number;
}

export const s3Options: DriverOptions<S3Config> = {
  keys: ['endpoint', 'region', 'bucket', 'access-key', 'secret-key', 'force-path-style'],
  redirects: true,
  read(r) {
    const s: S3Config = {
      endpoint: r.optionalString('endpoint'),
      region: r.string('region', 'us-east-1'),
      bucket: r.string('bucket'),
      accessKey: r.optionalString('access-key'),
      secretKey: r.optionalString('secret-key'),
      forcePathStyle: r.keys().includes('force-path-style') ? r.boolean('force-path-style', false) : undefined,
    };
    if ((s.accessKey === undefined) !== (s.secretKey === undefined)) {
      r.fail(
        s.accessKey === undefined ? 'access-key' : 'secret-key',
        'access-key and secret-key must be set together (or neither: the AWS default credential chain)',
      );
    }
    return s;
  },
  show: (s, secret) => ({
    endpoint: s.endpoint,
    region: s.region,
    bucket: s.bucket,
    'access-key': s.accessKey,
    'secret-key': secret(s.secretKey),
    'force-path-style': s.forcePathStyle,
  }),
};
