// HTTP to the Swift API. One exchange carries the session's token; a 401 gets
// a fresh token and one more try. Calls run under retry.ts (a timeout per
// attempt, bounded retries of idempotent calls) and read the answer whole, or
// stream it back with an idle timeout. A streamed request body goes through
// node:http with backpressure: fetch() would read all of it into memory.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { StorageUnavailableError } from '../errors.js';
import {
  BackendHttpError,
  unavailable,
  watchBody,
  withRetries,
  type AttemptContext,
  type IdleDeadline,
  type RetryPolicy,
} from '../retry.js';
import type { SwiftAuth } from './auth.js';

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface StreamReply {
  status: number;
  headers: Headers;
  stream: Readable;
}

/** Bytes, or a factory of a streamed body (called again to replay it after a 401, when `canReplay` says so). */
export type Body = Uint8Array | (() => AsyncIterable<Uint8Array>);

export interface CallOptions {
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  body?: Body;
  /** May be retried (false for consumed streams and non-idempotent calls). */
  idempotent: boolean;
  /** For a streamed body: may it be sent again (after a 401)? */
  canReplay?: () => boolean;
  /** Path relative to the storage URL ('' = account). */
  path: string;
}

export class SwiftTransport {
  constructor(
    readonly auth: SwiftAuth,
    readonly policy: RetryPolicy,
  ) {}

  /** One HTTP exchange with auth; a 401 gets one fresh token and one more try. */
  async exchange(method: string, o: CallOptions, ctx: AttemptContext): Promise<Response> {
    let session = await this.auth.get();
    for (let authTry = 0; ; authTry++) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) qs.set(k, v);
      const q = qs.toString();
      const url = `${session.storageUrl}${o.path ? '/' + o.path : ''}${q ? '?' + q : ''}`;
      const init: RequestInit & { duplex?: 'half' } = {
        method,
        headers: { ...o.headers, 'X-Auth-Token': session.token },
        signal: ctx.signal,
      };
      if (o.body instanceof Uint8Array) init.body = o.body as unknown as RequestInit['body'];
      // fetch() reads a streamed request body without backpressure (all of it
      // into memory): streamed bodies go through node:http instead.
      const res =
        typeof o.body === 'function'
          ? await streamRequest(method, url, init.headers as Record<string, string>, o.body(), ctx.signal)
          : await fetch(url, init);
      if (res.status !== 401 || authTry > 0) return res;
      await res.arrayBuffer().catch(() => undefined);
      this.auth.forget(session);
      session = await this.auth.get();
      if (typeof o.body === 'function' && !(o.canReplay?.() ?? false)) {
        throw new StorageUnavailableError(
          `swift ${method} /${o.path}: token rejected after too much of the streamed body was sent; the token is renewed, try again`,
        );
      }
    }
  }

  /** A request whose answer is read whole. */
  async call(what: string, method: string, o: CallOptions): Promise<Reply> {
    return withRetries(
      what,
      this.policy,
      async (ctx) => {
        const res = await this.exchange(method, o, ctx);
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status >= 500 || res.status === 408 || res.status === 429) {
          throw new BackendHttpError(`swift ${method} /${o.path} answered ${res.status}`, res.status);
        }
        return { status: res.status, headers: res.headers, body };
      },
      { idempotent: o.idempotent },
    );
  }

  /** A GET whose body is streamed back (with an idle timeout) on 2xx. */
  async callStream(what: string, o: CallOptions): Promise<StreamReply | Reply> {
    let deadline: IdleDeadline | undefined;
    const reply = await withRetries(
      what,
      this.policy,
      async (ctx): Promise<StreamReply | Reply> => {
        const res = await this.exchange('GET', o, ctx);
        if (res.status >= 500 || res.status === 408 || res.status === 429) {
          await res.arrayBuffer().catch(() => undefined);
          throw new BackendHttpError(`swift GET /${o.path} answered ${res.status}`, res.status);
        }
        if (res.status >= 300 || !res.body) {
          const body = Buffer.from(await res.arrayBuffer());
          ctx.deadline.clear();
          return { status: res.status, headers: res.headers, body };
        }
        deadline = ctx.deadline;
        const web = res.body as unknown as import('node:stream/web').ReadableStream<Uint8Array>;
        return { status: res.status, headers: res.headers, stream: Readable.fromWeb(web) };
      },
      { idempotent: true, keepDeadline: true },
    );
    if ('stream' in reply && deadline) return { ...reply, stream: watchBody(reply.stream, deadline, what) };
    deadline?.clear();
    return reply;
  }

  /** The error for an answer the caller did not expect (a StorageUnavailableError with the answer's start). */
  fail(what: string, r: { status: number; body?: Buffer }): Error {
    const detail = r.body?.length ? `: ${r.body.toString('utf8', 0, Math.min(r.body.length, 300))}` : '';
    return unavailable(what, new BackendHttpError(`answered ${r.status}${detail}`, r.status));
  }
}

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64 });

/**
 * A request with a streamed body over node:http(s), honouring backpressure
 * (at most a socket buffer or so in flight). The answer comes back as a
 * fetch Response. An early answer (e.g. 401) stops the upload.
 */
function streamRequest(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const u = new URL(url);
    const isHttps = u.protocol === 'https:';
    let answered = false;
    let failed = false;
    const req = (isHttps ? httpsRequest : httpRequest)(u, {
      method,
      headers: { ...headers, 'Transfer-Encoding': 'chunked' },
      agent: isHttps ? httpsAgent : httpAgent,
    });
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        if (failed) return;
        signal.removeEventListener('abort', onAbort);
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        }
        const status = res.statusCode ?? 502;
        const nullBody = status === 204 || status === 205 || status === 304;
        // the upload may have been cut short by the answer: never reuse this socket
        if (!req.writableFinished) req.destroy();
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: h }));
      });
    });
    void (async () => {
      try {
        for await (const chunk of body) {
          if (answered || failed) return;
          if (!req.write(chunk)) {
            await new Promise<void>((r) => {
              const done = () => {
                req.off('drain', done);
                req.off('close', done);
                r();
              };
              req.on('drain', done);
              req.on('close', done);
            });
          }
        }
        if (!answered && !failed) req.end();
      } catch (err) {
        fail(err); // the body's source failed: the upload is abandoned (nothing is stored)
      }
    })();
  });
}

/** An object's time from an answer's headers: X-Timestamp, else Last-Modified, else now. */
export function headerDate(h: Headers): Date {
  const ts = Number(h.get('x-timestamp'));
  if (Number.isFinite(ts) && ts > 0) return new Date(Math.round(ts * 1000));
  const lm = h.get('last-modified');
  const d = lm ? new Date(lm) : new Date();
  return Number.isNaN(d.getTime()) ? new Date() : d;
}
