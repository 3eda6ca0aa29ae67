// The S3 driver's hot calls (HeadObject, GetObject, PutObject, UploadPart,
// DeleteObject, ListObjectsV2) as plain node:http requests on a keep-alive agent, signed by sigv4.ts.
// The AWS SDK spends several ms of main-thread CPU per call in its
// middleware (endpoint rules, schema (de)serialisation, signing, body stream
// wrappers); these calls need none of it. Everything else (listings,
// multipart bookkeeping, copies, deletes, presigning) stays on the SDK.
//
// Errors look like the SDK's to the rest of the driver: `name` is the S3
// error code (NoSuchKey, NoSuchBucket, InvalidRange, ...) or the status's
// name for bodiless answers, `$metadata.httpStatusCode` the status, so
// client.ts's predicates and retry.ts's isTransient read them alike.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { S3Config } from './config.js';
import { EMPTY_SHA256, encodePath, SigV4Signer, UNSIGNED_PAYLOAD, type SigV4Credentials } from './sigv4.js';

export interface S3Call {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE';
  /** '' for the bucket itself (a listing). */
  key: string;
  query?: Record<string, string>;
  /** Lower-case names. */
  headers?: Record<string, string>;
  /** Sent with Content-Length and (by the caller) Content-MD5; its payload is not hashed for the signature. */
  body?: Uint8Array;
  signal?: AbortSignal;
}

/** An answer of the store that is not a success, shaped like the SDK's service errors. */
export class S3CallError extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(name: string, status: number, message: string) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

const STATUS_NAMES: Record<number, string> = { 404: 'NotFound', 416: 'InvalidRange', 403: 'Forbidden', 400: 'BadRequest' };

/** Where requests for `bucket` go: origin, Host header and the path prefix of every key. */
export interface S3Target {
  https: boolean;
  hostname: string;
  port: number;
  host: string;
  /** e.g. "/bucket/" (path style) or "/" (virtual-hosted). */
  prefix: string;
}

/** The URL the SDK would use: `endpoint` (path style unless told otherwise), else AWS's regional endpoint. */
export function s3Target(config: S3Config): S3Target {
  const pathStyle = config.forcePathStyle ?? !!config.endpoint;
  let base: URL;
  let virtual = false;
  if (config.endpoint) {
    base = new URL(config.endpoint);
    virtual = !pathStyle;
  } else {
    base = new URL(`https://s3.${config.region}.amazonaws.com`);
    // Dotted names do not match the wildcard certificate: path style, as the SDK does.
    virtual = !pathStyle && !config.bucket.includes('.');
  }
  const https = base.protocol === 'https:';
  const port = base.port ? Number(base.port) : https ? 443 : 80;
  const hostname = virtual ? `${config.bucket}.${base.hostname}` : base.hostname;
  const basePath = base.pathname.replace(/\/+$/, '');
  return {
    https,
    hostname,
    port,
    host: base.port ? `${hostname}:${base.port}` : hostname,
    prefix: virtual ? `${basePath}/` : `${basePath}/${encodePath(config.bucket)}/`,
  };
}

export class S3Requests {
  private readonly target: S3Target;
  private readonly signer = new SigV4Signer();
  private readonly agent: HttpAgent;

  constructor(
    private readonly config: S3Config,
    private readonly credentials: () => Promise<SigV4Credentials>,
  ) {
    this.target = s3Target(config);
    const opts = { keepAlive: true, maxSockets: 64, maxFreeSockets: 64, scheduling: 'lifo' as const };
    this.agent = this.target.https ? new HttpsAgent(opts) : new HttpAgent(opts);
  }

  /**
   * Send one call; resolves with the response once its headers are in (2xx
   * only: the body is the caller's to consume), rejects with an S3CallError
   * for any other status (its body read for the error code).
   */
  async send(call: S3Call): Promise<IncomingMessage> {
    const creds = await this.credentials();
    const path = call.key ? this.target.prefix + encodePath(call.key) : this.target.prefix.replace(/(.)\/$/, '$1');
    const headers: Record<string, string> = { ...call.headers };
    if (call.body) headers['content-length'] = String(call.body.byteLength);
    const signed = this.signer.sign(
      {
        method: call.method,
        host: this.target.host,
        path,
        query: call.query,
        headers,
        payloadHash: call.body && call.body.byteLength > 0 ? UNSIGNED_PAYLOAD : EMPTY_SHA256,
        region: this.config.region,
      },
      creds,
    );
    const q = call.query ? queryString(call.query) : '';
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (this.target.https ? httpsRequest : httpRequest)(
        {
          hostname: this.target.hostname,
          port: this.target.port,
          method: call.method,
          path: q ? `${path}?${q}` : path,
          headers: signed,
          agent: this.agent,
          signal: call.signal,
        },
        resolve,
      );
      req.on('error', reject);
      req.end(call.body);
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    throw await callError(call, res, status);
  }

  destroy(): void {
    this.agent.destroy();
  }
}

function queryString(query: Record<string, string>): string {
  return Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

async function callError(call: S3Call, res: IncomingMessage, status: number): Promise<S3CallError> {
  let text = '';
  if (call.method !== 'HEAD') {
    try {
      for await (const piece of res) {
        if (text.length < 4096) text += (piece as Buffer).toString('utf8');
      }
    } catch {
      /* the status is enough */
    }
  } else {
    res.resume();
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? STATUS_NAMES[status] ?? (status >= 500 ? 'InternalError' : `Http${status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';
  return new S3CallError(code, status, `${call.method} ${call.key}: ${status} ${code}${message ? `: ${message}` : ''}`);
}

/** Content-Length of an answer, or undefined. */
export function contentLength(h: IncomingHttpHeaders): number | undefined {
  const v = h['content-length'];
  return v === undefined ? undefined : Number(v);
}

/** One page of ListObjectsV2, read from its XML. */
export interface ListResult {
  contents: { key: string; size: number; modified: Date }[];
  prefixes: string[];
  truncated: boolean;
  next?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function xmlText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return ENTITIES[e] ?? m;
  });
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? xmlText(m[1]!) : undefined;
}

export function parseListResult(xml: string): ListResult {
  const contents: ListResult['contents'] = [];
  for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const body = m[1]!;
    const modified = tag(body, 'LastModified');
    contents.push({
      key: tag(body, 'Key') ?? '',
      size: Number(tag(body, 'Size') ?? 0),
      modified: modified ? new Date(modified) : new Date(0),
    });
  }
  const prefixes: string[] = [];
  for (const m of xml.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)) prefixes.push(tag(m[1]!, 'Prefix') ?? '');
  // Only the top level's IsTruncated / NextContinuationToken (they follow the entries or precede them).
  const outer = xml.replace(/<Contents>[\s\S]*?<\/Contents>|<CommonPrefixes>[\s\S]*?<\/CommonPrefixes>/g, '');
  return { contents, prefixes, truncated: tag(outer, 'IsTruncated') === 'true', next: tag(outer, 'NextContinuationToken') };
}
