// Requests pipelined on one connection (written before the first answer
// arrives) run one at a time, in the order they arrived. Node's parser reads
// them all at once and hands each to the handler straight away: a GET written
// right behind the POST that creates its blob would run first and miss it,
// and a request answered while an earlier response was still pending found no
// socket yet and was taken for a client gone away (the connection was closed
// and everything behind it lost). RFC 9112 §9.3.2: responses in order, and
// unsafe methods never run in parallel.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

export interface InOrder {
  handle: Handler;
  /**
   * The parser failed on this connection: answer `reply` (a raw response
   * that closes the connection) in the failing request's turn. Requests read
   * completely before the bad bytes are answered first; a request whose body
   * held them is refused instead of run.
   */
  refuse(socket: Socket, reply: string): void;
}

interface Line {
  /** Requests waiting for their turn, oldest first. */
  waiting: Array<() => void>;
  /** The last request received and its response. */
  req: IncomingMessage;
  res: ServerResponse;
}

export function inOrderPerConnection(handle: Handler): InOrder {
  // Only connections with a request in progress have a line.
  const lines = new WeakMap<Socket, Line>();
  const refused = new WeakMap<IncomingMessage, string>();
  const next = (socket: Socket) => {
    const line = lines.get(socket)!;
    const run = line.waiting.shift();
    if (run) run();
    else lines.delete(socket);
  };
  const answer = (socket: Socket, reply: string) => {
    if (socket.writable) socket.end(reply);
  };
  const watched = new WeakSet<Socket>();
  const refuse = (socket: Socket, reply: string) => {
    const line = lines.get(socket);
    if (!line) return answer(socket, reply);
    if (line.req.complete) {
      // The bad bytes came after the last complete request: after its answer.
      line.res.once('close', () => answer(socket, reply));
      return;
    }
    // They are in the body of the last request: it is refused in its turn,
    // not run (its body will never end).
    refused.set(line.req, reply);
    if (line.waiting.length > 0) return;
    // It is running now. Its handler waits for a body that will not come
    // until the client closes (or the idle timeout), which releases it; the
    // socket is only half-closed so that a client still sending can read
    // the answer instead of a reset.
    if (!line.res.headersSent) return answer(socket, reply);
    // It has answered already (say 400 for its Transfer-Encoding): no second answer.
    line.res.once('close', () => answer(socket, ''));
  };
  return {
    refuse,
    handle(req, res) {
      const socket = req.socket;
      if (!watched.has(socket)) {
        watched.add(socket);
        // The client half-closed: a body still incomplete never will be. The
        // parser says so itself for most requests (a clientError), but not
        // after a request that asked for an upgrade, whose handler would
        // wait for the rest until the idle timeout.
        socket.once('end', () => {
          const line = lines.get(socket);
          if (line && !line.req.complete) refuse(socket, BAD_REQUEST);
        });
      }
      const run = () => {
        const reply = refused.get(req);
        if (reply !== undefined) return answer(socket, reply);
        // The client has gone: no one would learn what this request did (an
        // upload nobody knows the id of), so it is not run at all.
        if (socket.destroyed) {
          res.destroy();
          return next(socket);
        }
        res.once('close', () => next(socket));
        // Node's parser stops reading a connection after a request that asks
        // for an upgrade (Connection: upgrade, e.g. h2c), even when it is
        // answered as plain HTTP: anything sent after it would hang. Say so.
        if (req.headers.upgrade !== undefined && /(^|,)\s*upgrade\s*(,|$)/i.test(req.headers.connection ?? '')) {
          res.setHeader('Connection', 'close');
        }
        handle(req, res);
      };
      const line = lines.get(socket);
      if (line) {
        line.waiting.push(run);
        line.req = req;
        line.res = res;
        return;
      }
      lines.set(socket, { waiting: [], req, res });
      run();
    },
  };
}
