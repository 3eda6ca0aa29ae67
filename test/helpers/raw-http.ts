// Raw HTTP/1.1 over one socket, for what fetch and node:http cannot do:
// several requests written at once (pipelining), a half-close after them,
// malformed framing — and reading back every response in order, exactly as
// the bytes came, with the framing checked (Content-Length or chunked).
import { connect, type Socket } from 'node:net';

export interface WireResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

export interface ExchangeResult {
  responses: WireResponse[];
  /** The server closed the connection (FIN or reset) before `timeoutMs`. */
  closed: boolean;
  /** A reset or another socket error, if any. */
  error?: string;
  /** Bytes after the last complete response (a partial or malformed one). */
  rest: Buffer;
  /** A framing error in what the server sent, if any (e.g. a bad chunk size). */
  framingError?: string;
}

/**
 * Parse as many complete responses as `raw` holds. `methods[i]` is the method
 * of the i-th request (a response to HEAD has no body whatever its headers say).
 */
export function parseResponses(raw: Buffer, methods: string[]): { responses: WireResponse[]; rest: Buffer; framingError?: string } {
  const responses: WireResponse[] = [];
  let at = 0;
  for (;;) {
    const sep = raw.indexOf('\r\n\r\n', at);
    if (sep < 0) break;
    const lines = raw.subarray(at, sep).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) return { responses, rest: raw.subarray(at), framingError: `bad status line: ${JSON.stringify(lines[0]!.slice(0, 100))}` };
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i <= 0) return { responses, rest: raw.subarray(at), framingError: `bad header line: ${JSON.stringify(line.slice(0, 100))}` };
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    let pos = sep + 4;
    const method = methods[responses.length] ?? 'GET';
    // 1xx: an interim response (100 Continue); the final one follows.
    if (status >= 100 && status < 200) {
      at = pos;
      continue;
    }
    let body: Buffer;
    if (method === 'HEAD' || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let done = false;
      for (;;) {
        const eol = raw.indexOf('\r\n', pos);
        if (eol < 0) break;
        const sizeText = raw.subarray(pos, eol).toString('latin1').split(';')[0]!.trim();
        if (!/^[0-9a-f]{1,15}$/i.test(sizeText)) {
          return { responses, rest: raw.subarray(at), framingError: `bad chunk size ${JSON.stringify(sizeText.slice(0, 40))}` };
        }
        const size = parseInt(sizeText, 16);
        if (size === 0) {
          const end = raw.indexOf('\r\n\r\n', eol); // after any trailer fields
          if (end < 0) break;
          pos = end + 4;
          done = true;
          break;
        }
        if (raw.length < eol + 2 + size + 2) break;
        parts.push(raw.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
      if (!done) break;
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (!Number.isSafeInteger(len) || len < 0) {
        return { responses, rest: raw.subarray(at), framingError: `bad Content-Length ${headers['content-length']}` };
      }
      if (raw.length < pos + len) break;
      body = raw.subarray(pos, pos + len);
      pos += len;
    } else {
      // Close-delimited: only the last response on a connection may be.
      body = raw.subarray(pos);
      pos = raw.length;
    }
    // Decoding a big binary body as text is slow: only on demand.
    responses.push({
      status,
      headers,
      body,
      get text() {
        return body.toString('utf8');
      },
    });
    at = pos;
  }
  return { responses, rest: raw.subarray(at) };
}

export interface ExchangeOptions {
  /** Methods of the requests in `parts`, in order (for HEAD bodies). Default: all GET. */
  methods?: string[];
  /** Stop once this many responses have arrived (default: methods.length, else wait for close). */
  expect?: number;
  /** Half-close (FIN) after writing everything. Default false. */
  halfClose?: boolean;
  /** Pause between parts, ms (default 0: everything in one write). */
  gapMs?: number;
  timeoutMs?: number;
  /** Called once connected, before anything is written (e.g. to grab the socket). */
  onSocket?: (s: Socket) => void;
}

/**
 * Write `parts` on one fresh connection (concatenated into one write unless
 * `gapMs`), then read responses until `expect` have arrived, the server
 * closes, or `timeoutMs` passes.
 */
export function exchange(port: number, parts: Array<string | Buffer>, opts: ExchangeOptions = {}): Promise<ExchangeResult> {
  const methods = opts.methods ?? [];
  const expect = opts.expect ?? (methods.length > 0 ? methods.length : Infinity);
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let error: string | undefined;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(check);
      sock.destroy();
      const parsed = parseResponses(Buffer.concat(got), methods);
      resolve({ ...parsed, closed, error });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 10_000);
    // Parsing everything again on each piece would be quadratic for a big
    // body: look at most every 20 ms.
    let check: NodeJS.Timeout | undefined;
    sock.on('data', (d: Buffer) => {
      got.push(d);
      if (expect === Infinity || check) return;
      check = setTimeout(() => {
        check = undefined;
        if (parseResponses(Buffer.concat(got), methods).responses.length >= expect) {
          // Give a stray extra byte or a close a moment to show up.
          setTimeout(() => finish(sock.readableEnded || sock.destroyed), 30);
        }
      }, 20);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? String(err);
      finish(true);
    });
    sock.on('close', () => finish(true));
    sock.on('connect', async () => {
      opts.onSocket?.(sock);
      if (!opts.gapMs) sock.write(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))));
      else {
        for (const p of parts) {
          if (sock.destroyed) return;
          sock.write(p);
          await new Promise((r) => setTimeout(r, opts.gapMs));
        }
      }
      if (opts.halfClose && !sock.destroyed) sock.end();
    });
  });
}
