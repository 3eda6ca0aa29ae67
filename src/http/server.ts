// The listening server: HTTP or HTTPS (certificate reloaded on SIGHUP), with
// timeouts that keep slow or idle clients from holding sockets.
import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { StorageDriver } from '../storage/driver.js';
import { createDispatcher } from './dispatch.js';
import { inOrderPerConnection } from './pipelining.js';
import { createAuth } from './auth/index.js';

export interface WharfServer {
  server: Server;
  url: string;
  /** Re-read TLS certificate and key (no-op without TLS). */
  reloadTls(): void;
  close(): Promise<void>;
}

function readTls(config: Config) {
  return { cert: readFileSync(config.tlsCert!), key: readFileSync(config.tlsKey!) };
}

export async function startServer(config: Config, driver: StorageDriver, log: Logger): Promise<WharfServer> {
  // Users, keys and password hashes are checked before listening: a bad entry stops the start.
  const dispatch = createDispatcher(config, driver, log, await createAuth(config, log));
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.address.includes(':') ? `[${config.address}]` : config.address;
  return {
    server,
    url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    reloadTls() {
      if (!tls) return;
      (server as unknown as import('node:tls').Server).setSecureContext(readTls(config));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
