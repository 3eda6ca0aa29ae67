// A counting reverse proxy in front of an S3 endpoint, for tests that assert
// how much store work an operation takes: every request is recorded as its
// method, `+COPY` when it carries x-amz-copy-source, the names of its query
// parameters (`PUT?partNumber,uploadId`), its key and the body bytes each way.
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StoreCall {
  op: string;
  path: string;
  sent: number;
  received: number;
  status: number;
}

export interface CountingProxy {
  endpoint: string;
  calls: StoreCall[];
  /** The calls since `from`, as op strings. */
  ops(from?: number): string[];
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const t = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const calls: StoreCall[] = [];
  const server: Server = createServer((req, res) => {
    let sent = 0;
    let received = 0;
    const u = new URL(req.url ?? '/', 'http://x');
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.on('data', (d: Buffer) => {
        received += d.length;
      });
      r.on('end', () => {
        const q = [...u.searchParams.keys()].filter((k) => !k.startsWith('X-Amz') && k !== 'x-id').sort();
        const op = `${req.method}${req.headers['x-amz-copy-source'] ? '+COPY' : ''}${q.length ? `?${q.join(',')}` : ''}`;
        calls.push({ op, path: decodeURIComponent(u.pathname), sent, received, status: r.statusCode ?? 0 });
      });
      r.pipe(res);
    });
    up.on('error', (e) => res.destroy(e));
    req.on('data', (d: Buffer) => {
      sent += d.length;
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    ops: (from = 0) => calls.slice(from).map((c) => c.op),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      agent.destroy();
    },
  };
}
