// AWS Signature Version 4 for S3 requests, header-based (the Authorization
// header). The driver's hot calls (HEAD, GET, PUT, UploadPart) are signed
// here and sent with node:http (s3/requests.ts) instead of going through
// the AWS SDK, whose per-call middleware (endpoint rules, schema, signing)
// cost several ms of main-thread CPU per call. Checked against the AWS
// documentation's examples (test/unit/s3-sigv4.test.ts) and by every call
// the real S3 endpoint in test/objectstores accepts.
import { createHash, createHmac } from 'node:crypto';

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  /** Host header value (host[:port]). */
  host: string;
  /** The path as sent, already URI-encoded (encodePath). */
  path: string;
  /** Query parameters (unencoded); '' for a flag such as `uploads`. */
  query?: Record<string, string>;
  /** Headers to send and sign, lower-case names; host and x-amz-* are added. */
  headers?: Record<string, string>;
  /** Hex SHA-256 of the body, or 'UNSIGNED-PAYLOAD'. */
  payloadHash: string;
  region: string;
  service?: string;
  /** Signing time (default now). */
  date?: Date;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ is %XX (upper-case hex). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A path of '/'-separated segments, each segment encoded (S3 encodes once, keeping '/'). */
export function encodePath(path: string): string {
  return path.split('/').map(uriEncode).join('/');
}

/** The query string, sorted and encoded as the canonical request has it (and as it is sent). */
export function canonicalQuery(query: Record<string, string> | undefined): string {
  if (!query) return '';
  return Object.keys(query)
    .map((k) => [uriEncode(k), uriEncode(query[k]!)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * Signs requests for one set of credentials, keeping the day's signing key
 * (four HMACs) until the date or the credentials change.
 */
export class SigV4Signer {
  private cached: { secret: string; scope: string; key: Buffer } | undefined;

  /** The headers to send: the input's, plus host, x-amz-date, x-amz-content-sha256, (x-amz-security-token) and authorization. */
  sign(input: SignInput, creds: SigV4Credentials): Record<string, string> {
    const date = amzDate(input.date ?? new Date());
    const day = date.slice(0, 8);
    const service = input.service ?? 's3';
    const scope = `${day}/${input.region}/${service}/aws4_request`;
    const headers: Record<string, string> = {
      ...input.headers,
      host: input.host,
      'x-amz-date': date,
      'x-amz-content-sha256': input.payloadHash,
    };
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`).join('');
    const signed = names.join(';');
    const canonical = [input.method, input.path, canonicalQuery(input.query), canonicalHeaders, signed, input.payloadHash].join('\n');
    const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(creds.secretAccessKey, scope, day, input.region, service))
      .update(toSign)
      .digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`;
    return headers;
  }

  private signingKey(secret: string, scope: string, day: string, region: string, service: string): Buffer {
    const c = this.cached;
    if (c && c.secret === secret && c.scope === scope) return c.key;
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
    this.cached = { secret, scope, key };
    return key;
  }
}
