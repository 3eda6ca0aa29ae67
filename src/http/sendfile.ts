// Blob bodies with sendfile(2): the kernel moves file pages straight to the
// client's socket, so a big pull costs the event loop a few calls per 8 MiB
// instead of a read and a write of every 64 KiB (native/src/sendfile.c).
//
// Only for plain-HTTP sockets (TLS must encrypt in user space) and files
// (the filesystem driver's openFile); everything else streams. The addon is
// optional: without it (not built, failed its self-test, or WHARF_SENDFILE=off)
// blob bodies stream as before.
//
// How one body goes out:
//   1. The status line, the headers and the first 64 KiB go through Node
//      (res.write), so Node frames the response as usual; its write callback
//      says they are in the kernel, and the socket then has no queued writes.
//   2. The rest goes in batches of up to 8 MiB, each one sendfile loop on the
//      libuv threadpool that stops when the socket buffer stays full (EAGAIN
//      for more than 10 ms); then we wait for the socket to become writable
//      (a uv_poll on our own duplicate of its descriptor) and go on. The event loop stays free
//      between batches, so small requests keep their latency (fairness).
//   3. res.end() finishes the response; keep-alive goes on as usual.
// Never a byte past the blob: every batch asks for at most what is left of
// [start, end], and the file was measured (fstat of the open handle, which
// pins this version of the blob) before the headers went out.
//
// A client that goes away: Node closes its descriptor and emits 'close'; we
// shut the connection down through our duplicate, which ends a wait and
// fails a running send (EPIPE), then close the duplicate. A client that stops
// reading: the server's idle timeout destroys the socket the same way (each
// batch that moves bytes re-arms that timeout, as Node's own writes do).
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { findBuiltAddon } from '../digest/native.js';

/** The addon's exports (native/src/sendfile.c). */
interface IoAddon {
  readonly supported: boolean;
  dup(fd: number): number;
  close(fd: number): void;
  shutdown(fd: number): void;
  send(outFd: number, inFd: number, offset: number, count: number, waitMs: number): Promise<number>;
  waitWritable(fd: number): Promise<void>;
}

const ADDON_FILE = join('native', 'build', 'Release', 'wharf_io.node');

/** Smaller bodies stream: the setup (a threadpool trip, a dup) costs more than it saves. */
export const SENDFILE_MIN_BYTES = 256 * 1024;
/** Sent through Node with the headers. */
const HEAD_BYTES = 64 * 1024;
/** At most this much per threadpool trip, so the pool and the loop stay shared. */
const BATCH_BYTES = 8 * 1024 * 1024;
/**
 * A pool job waits this long for a full socket buffer to drain before it
 * hands the wait to the event loop: a client that keeps up costs one thread
 * wake-up per buffer, a slow one holds a pool thread no longer than this.
 */
const POOL_WAIT_MS = 10;

let addon: IoAddon | null | undefined;
let why = '';

function loadAddon(): IoAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (/^(0|off|false|no)$/i.test(process.env.WHARF_SENDFILE ?? '')) {
    why = 'disabled by WHARF_SENDFILE';
    return null;
  }
  const path = findBuiltAddon(ADDON_FILE);
  if (path === null) {
    why = `${ADDON_FILE} not built`;
    return null;
  }
  try {
    const a = createRequire(import.meta.url)(path) as IoAddon;
    if (!a.supported) {
      why = 'sendfile(2) not available on this platform';
      return null;
    }
    addon = a;
  } catch (err) {
    why = `${ADDON_FILE} failed to load: ${(err as Error).message}`;
  }
  return addon;
}

/** How blob bodies are sent, for the startup log: "sendfile" or "streamed (<why>)". */
export function blobBodyMode(): string {
  return loadAddon() ? 'sendfile' : `streamed (${why})`;
}

/** The descriptor of a plain (not TLS) socket that is free to take this response's body, else null. */
function plainSocketFd(res: ServerResponse): number | null {
  const socket = res.socket;
  if (!socket || socket.destroyed || socket instanceof TLSSocket) return null;
  const fd = (socket as Socket & { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** True when a body of `length` bytes on this response would go out with sendfile. */
export function canSendfile(res: ServerResponse, length: number): boolean {
  return length >= SENDFILE_MIN_BYTES && plainSocketFd(res) !== null && loadAddon() !== null;
}

class ClientGone extends Error {
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE';
  constructor() {
    super('client went away during a sendfile body');
  }
}

/** res.write that settles once the bytes are in the kernel (or the socket failed). */
function writeThrough(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new ClientGone());
    res.once('close', onClose);
    res.write(chunk, (err) => {
      res.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw new Error('blob file ended before its size');
    got += bytesRead;
  }
  return buf;
}

/**
 * Bytes each socket carried past Node (by sendfile): `socket.bytesWritten`
 * never sees them, and the access log and metrics count a response's bytes
 * from it.
 */
const sentPastNode = new WeakMap<Socket, number>();

export function bytesSentPastNode(socket: Socket): number {
  return sentPastNode.get(socket) ?? 0;
}

/**
 * Send bytes [start, end] (inclusive) of the open file as the body of `res`,
 * whose status and headers (Content-Length = end - start + 1) are set and not
 * sent yet; ends the response. The caller checked canSendfile() and that the
 * file holds at least end + 1 bytes, and closes `fh` after this settles.
 * Rejects when the client goes away (the caller then destroys the response).
 */
export async function sendFileBody(res: ServerResponse, fh: FileHandle, start: number, end: number): Promise<void> {
  const io = loadAddon();
  if (!io) throw new Error('sendFileBody without the sendfile addon');
  const headLength = Math.min(HEAD_BYTES, end - start + 1);
  await writeThrough(res, await readExactly(fh, headLength, start));
  let pos = start + headLength;
  if (pos > end) {
    res.end();
    return;
  }
  const socket = res.socket;
  const socketFd = plainSocketFd(res);
  if (!socket || socketFd === null) throw new ClientGone();
  if (socket.writableLength !== 0) {
    // Something else is queued on the socket (never seen): our bytes must not overtake it.
    throw new Error('socket has queued writes; cannot send the body with sendfile');
  }
  const out = io.dup(socketFd);
  let gone = false;
  const onClose = () => {
    gone = true;
    io.shutdown(out);
  };
  socket.once('close', onClose);
  try {
    while (pos <= end) {
      if (gone || socket.destroyed) throw new ClientGone();
      const want = Math.min(BATCH_BYTES, end + 1 - pos);
      const sent = await io.send(out, fh.fd, pos, want, POOL_WAIT_MS);
      pos += sent;
      if (sent > 0) sentPastNode.set(socket, (sentPastNode.get(socket) ?? 0) + sent);
      if (sent > 0 && socket.timeout) socket.setTimeout(socket.timeout); // re-arm the idle timeout, as a write does
      if (sent < want) await io.waitWritable(out);
    }
  } catch (err) {
    throw gone || socket.destroyed ? new ClientGone() : err;
  } finally {
    socket.off('close', onClose);
    io.close(out);
  }
  res.end();
}
