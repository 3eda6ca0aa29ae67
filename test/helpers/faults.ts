// Network fixtures for backend-fault tests: a closed port, a server that
// accepts and never answers, and a fault-injecting HTTP proxy.
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';

function listen(server: Server): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      res(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

/** A loopback port nothing listens on (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A TCP server that accepts connections and never answers (a hung backend). */
export async function blackhole(): Promise<{ url: string; port: number; requests: string[]; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    // note each request's first line, then read and ignore everything
    s.once('data', (d: Buffer) => requests.push(d.toString('latin1').split('\r\n')[0]!));
    s.resume();
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * What the fault proxy does with one request: undefined = pass it through;
 * a number = answer with that status; 'hang' = never answer; 'cut' = pass
 * through but cut the response body after `cutAfter` bytes; 'stall' = pass
 * through but stop sending the body after `cutAfter` bytes (connection left open).
 */
export type Fault = undefined | number | 'hang' | { action: 'cut' | 'stall'; cutAfter: number };

export interface FaultProxy {
  url: string;
  port: number;
  /** Requests seen, as "METHOD /path". */
  seen: string[];
  /** Decides per request; replace at will. */
  decide: (req: IncomingMessage, index: number) => Fault;
  close(): Promise<void>;
}

/** An HTTP proxy in front of `target` (http://host:port) that injects faults. */
export async function faultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = {
    url: '',
    port: 0,
    seen: [],
    decide: () => undefined,
    close: async () => {},
  };
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const index = proxy.seen.length;
    proxy.seen.push(`${req.method} ${req.url}`);
    const fault = proxy.decide(req, index);
    if (fault === 'hang') {
      req.resume();
      return;
    }
    if (typeof fault === 'number') {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault, { 'Content-Type': 'text/plain', 'Content-Length': '6' });
        res.end('fault\n');
      });
      return;
    }
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (!fault) {
        upRes.pipe(res);
        return;
      }
      let sent = 0;
      upRes.on('data', (chunk: Buffer) => {
        if (sent >= fault.cutAfter) return;
        const piece = chunk.subarray(0, fault.cutAfter - sent);
        sent += piece.length;
        res.write(piece);
        if (sent >= fault.cutAfter) {
          upRes.destroy();
          if (fault.action === 'cut') res.socket?.destroy();
        }
      });
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  proxy.port = port;
  proxy.url = `http://127.0.0.1:${port}`;
  proxy.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return proxy;
}

/** How `p` settled, and after how long. */
export async function timed<T>(p: Promise<T>): Promise<{ err: unknown; ms: number }> {
  const t0 = Date.now();
  try {
    await p;
    return { err: undefined, ms: Date.now() - t0 };
  } catch (err) {
    return { err, ms: Date.now() - t0 };
  }
}
