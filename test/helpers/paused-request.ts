// A request whose body is sent in two steps, so a test can make races
// deterministic: the headers and the first part of the body go out at once,
// the rest only when the test calls `resume()`. The server may answer before
// the body is complete (an early 4xx); the answer is collected either way.
// The connection asks to be kept alive: the server then reads and discards
// the rest of a body it answered early (up to its drain limit). With
// `Connection: close` (Node's default without an agent) it closes after an
// early answer, resetting the unread rest: a resume() just then fails with
// EPIPE before Node has read the answer waiting in the socket
// (test/http/upload-races failed so under load).
import { request as httpRequest } from 'node:http';
import { REQUEST_TIMEOUT_MS } from './oci-client.js';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface PausedRequest {
  /** Send the rest of the body and end the request (no-op once answered). */
  resume(): void;
  /** The server's answer; rejects only when there is none (connection error, timeout). */
  response: Promise<Answer>;
  /** True once the server has answered. */
  answered(): boolean;
}

export function pausedRequest(url: string, method: string, headers: Record<string, string>, body: Buffer, first: number): PausedRequest {
  let done = false;
  let resumeBody = () => {};
  const response = new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(url, {
      method,
      agent: false,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), Connection: 'keep-alive', ...headers },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${method} ${url}: no answer in ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    req.on('response', (res) => {
      done = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        clearTimeout(timer);
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: h, text });
        req.destroy();
      });
    });
    req.on('error', (err) => {
      if (done) return; // the server answered early and closed: that answer counts
      clearTimeout(timer);
      reject(err);
    });
    req.write(body.subarray(0, first));
    resumeBody = () => {
      if (done || req.destroyed) return;
      req.end(body.subarray(first));
    };
  });
  response.catch(() => undefined);
  return { resume: () => resumeBody(), response, answered: () => done };
}
