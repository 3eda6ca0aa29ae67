// The listening servers: the registry (HTTP or HTTPS, certificate reloaded on
// SIGHUP, timeouts that keep slow or idle clients from holding sockets) and,
// when configured, the admin listener (/healthz, /readyz, /metrics). Also the
// steps of a graceful stop, which cli/serve.ts runs in order.
import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { adminHandler } from './admin.js';
import { createDispatcher } from './dispatch.js';
import { inOrderPerConnection } from './pipelining.js';
import type { Logger } from '../log/logger.js';
import type { StorageDriver } from '../storage/driver.js';
import { Runtime } from './runtime.js';

export interface WharfServer {
  server: Server;
  url: string;
  /** The main listener's port (the configured one, or the one the system chose for 0). */
  port: number;
  /** The admin listener's URL, when `registry.admin` is set. */
  adminUrl?: string;
  /** Re-read the TLS certificate and key of `config` (no-op without TLS). Throws when they are unusable. */
  reloadTls(config: Config): void;
  /** Stop accepting connections; idle keep-alive connections are closed. Requests in flight go on. */
  stopAccepting(): void;
  /** Close every connection now (the end of the shutdown timeout). */
  closeConnections(): void;
  /** Close the admin listener. */
  closeAdmin(): Promise<void>;
  /** stopAccepting + wait for the connections to end, then close the admin listener (tests, simple stops). */
  close(): Promise<void>;
}

function readTls(config: Config) {
  return { cert: readFileSync(config.tlsCert!), key: readFileSync(config.tlsKey!) };
}

function listen(server: Server, port: number, address: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * Listen with a runtime (`wharf serve` builds one with metrics and events),
 * or — for in-process use, e.g. tests — with a configuration, a driver and a
 * logger (no metrics).
 */
export async function startServer(rtOrConfig: Runtime | Config, driver?: StorageDriver, log?: Logger): Promise<WharfServer> {
  const rt = rtOrConfig instanceof Runtime ? rtOrConfig : await Runtime.create(rtOrConfig, driver!, log!);
  const config = rt.config;
  const dispatch = createDispatcher(rt);
  const inOrder = inOrderPerConnection(dispatch);
  const options = {
    maxHeaderSize: config.limits.maxHeaderBytes,
    headersTimeout: config.limits.headersTimeoutMs,
    // Node checks the headers timeout only this often (30 s by default): check
    // often enough that a slowloris client is cut off close to the limit.
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(config.limits.headersTimeoutMs / 4))),
    // Big uploads may take long; a stalled one is caught by the idle timeout.
    requestTimeout: 0,
    keepAliveTimeout: 30_000,
  };
  const tls = config.tlsCert !== undefined;
  const server: Server = tls
    ? (createHttpsServer({ ...options, ...readTls(config) }, inOrder.handle) as unknown as Server)
    : createHttpServer(options, inOrder.handle);
  // A client may half-close (FIN) right after its last request and still read
  // the answers. Node's default ends the socket at once, so responses still
  // being worked on were lost; with this flag it closes after the last one.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.setTimeout(config.limits.idleTimeoutMs, (socket) => socket.destroy());
  const refused = new WeakSet<Socket>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    if (refused.has(socket)) return; // the parser stays failed: more bytes, same error
    refused.add(socket);
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' // headers not complete within limits.headers-timeout
          ? '408 Request Timeout'
          : '400 Bad Request';
    // Requests read in full before the bad bytes are answered first, in order.
    inOrder.refuse(socket, `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  // An Expect other than 100-continue: Node would answer 417 by itself,
  // outside the order of the requests and the rules above (RFC 9110 §10.1.1
  // allows it, not requires it). Such requests are served as if it were absent.
  server.on('checkExpectation', inOrder.handle);
  // CONNECT asks for a tunnel, which a registry does not offer. Without a
  // listener Node destroys the socket at once, dropping the answers still
  // owed to requests pipelined before it: refuse it in its turn instead.
  server.on('connect', (_req, socket: Socket) => {
    // Node hands the socket over as if for a tunnel, with the listeners the
    // answers still being written need taken off: put back what they need.
    socket.on('error', () => socket.destroy()); // else a client reset is an unhandled 'error'
    socket.on('timeout', () => socket.destroy()); // the idle timeout
    // A response in flight waits for 'drain' to write on (Node forwards it only while it owns the socket).
    socket.on('drain', () => (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.emit('drain'));
    socket.resume(); // read and drop what follows, so that a client's FIN is seen
    inOrder.refuse(socket, 'HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  const port = await listen(server, config.port, config.address);
  let admin: Server | undefined;
  let adminUrl: string | undefined;
  if (config.ops.admin) {
    admin = createHttpServer({ headersTimeout: 10_000, requestTimeout: 10_000, keepAliveTimeout: 5_000 }, adminHandler(rt));
    try {
      const adminPort = await listen(admin, config.ops.admin.port, config.ops.admin.address);
      adminUrl = `http://${hostPart(config.ops.admin.address)}:${adminPort}`;
    } catch (err) {
      server.close();
      throw err;
    }
  }
  const closeAdmin = () =>
    new Promise<void>((resolve) => {
      if (!admin?.listening) return resolve();
      admin.close(() => resolve());
      admin.closeAllConnections();
    });
  let closed: Promise<void> | undefined;
  const stopAccepting = () => {
    closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
  };
  return {
    server,
    port,
    url: `${tls ? 'https' : 'http'}://${hostPart(config.address)}:${port}`,
    adminUrl,
    reloadTls(next: Config) {
      if (!tls) return;
      (server as unknown as import('node:tls').Server).setSecureContext(readTls(next));
    },
    stopAccepting,
    closeConnections: () => server.closeAllConnections(),
    closeAdmin,
    close: async () => {
      stopAccepting();
      await closed;
      await closeAdmin();
    },
  };
}
