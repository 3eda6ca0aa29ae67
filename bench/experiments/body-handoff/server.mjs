// Experiment: a bare node:http server that stores one request body three ways
// and reports the process's CPU seconds (all threads, and the main thread):
//   ?mode=stream   req -> HashingCounter -> file (what Wharf does today)
//   ?mode=recv     the socket read on the threadpool in 8 MiB batches (recvInto), written and hashed there
//   ?mode=splice   splice(2) socket -> file on the threadpool, hashed from the page cache (pread)
// Each ends with an fdatasync and answers with the digest and `Connection: close`
// (the HTTP parser never saw the body's bytes in the last two modes: see README.md).
//
//   node bench/experiments/body-handoff/server.mjs [dir] [port]
//   curl -T 1GiB.bin 'http://127.0.0.1:<port>/?mode=splice'
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { createHash } from '../../../dist/src/digest/index.js';
import { HashingCounter } from '../../../dist/src/registry/upload-body.js';

const io = createRequire(import.meta.url)('./build/Release/body_handoff.node');
const dir = process.argv[2] ?? fs.mkdtempSync('/tmp/body-handoff-');
fs.mkdirSync(dir, { recursive: true });
const BATCH = 8 << 20;
const WAIT_MS = 10;
let n = 0;

/** utime + stime of the main thread, in seconds. */
function mainThreadCpu() {
  const f = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Stop Node reading the socket and take what its parser already gave the request. */
function takeOver(req) {
  const socket = req.socket;
  // The server's own flag for "do not read": readStart() and the server's
  // 'resume' handler both respect it (req.read() below would restart reading otherwise).
  socket._paused = true;
  if (socket._handle.reading) {
    socket._handle.reading = false;
    socket._handle.readStop();
  }
  const first = [];
  for (let c = req.read(); c !== null; c = req.read()) first.push(c);
  return { head: Buffer.concat(first), fd: io.dup(socket._handle.fd) };
}

async function store(mode, req, path, length, hash) {
  const fh = await fs.promises.open(path, 'w+');
  try {
    if (mode === 'stream') {
      const counter = new HashingCounter(hash);
      const out = fs.createWriteStream(null, { fd: fh.fd, autoClose: false, highWaterMark: 1 << 20 });
      await new Promise((resolve, reject) => {
        req.pipe(counter).pipe(out);
        out.on('finish', resolve);
        out.on('error', reject);
        req.on('error', reject);
      });
      return;
    }
    const { head, fd } = takeOver(req);
    try {
      await fh.write(head, 0, head.length, 0);
      await hash.updateAsync([head]);
      let pos = head.length;
      const bufs = [Buffer.allocUnsafe(BATCH), Buffer.allocUnsafe(BATCH)];
      let turn = 0;
      let pending = Promise.resolve();
      while (pos < length) {
        const want = Math.min(BATCH, length - pos);
        const b = bufs[turn];
        turn ^= 1;
        const got =
          mode === 'recv' ? await io.recvInto(fd, b.subarray(0, want), WAIT_MS) : await io.spliceToFile(fd, fh.fd, pos, want, WAIT_MS);
        if (got === 0) throw new Error('client went away');
        if (got < 0) continue; // nothing for WAIT_MS: ask again
        const at = pos;
        pos += got;
        if (mode === 'recv') {
          await pending;
          const view = b.subarray(0, got);
          pending = Promise.all([fh.write(view, 0, got, at), hash.updateAsync([view])]);
        } else {
          let r = 0;
          while (r < got) r += (await fh.read(b, r, got - r, at + r)).bytesRead;
          await hash.updateAsync([b.subarray(0, got)]);
        }
      }
      await pending;
    } finally {
      io.close(fd);
    }
  } finally {
    await fh.datasync();
    await fh.close();
  }
}

const server = http.createServer({ requestTimeout: 0 }, async (req, res) => {
  const mode = new URL(req.url, 'http://x').searchParams.get('mode') ?? 'stream';
  const path = `${dir}/body-${n++}`;
  const hash = createHash('sha256');
  const main0 = mainThreadCpu();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let answer;
  try {
    await store(mode, req, path, Number(req.headers['content-length']), hash);
    const cpu = process.cpuUsage(cpu0);
    answer = {
      mode,
      digest: `sha256:${hash.digestHex()}`,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      mainThreadCpuSeconds: mainThreadCpu() - main0,
      ms: Math.round(performance.now() - t0),
    };
  } catch (err) {
    answer = { mode, error: String(err) };
  }
  fs.rmSync(path, { force: true });
  res.setHeader('connection', 'close');
  res.end(`${JSON.stringify(answer)}\n`);
});
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => console.log(`listening on ${server.address().port}, files in ${dir}`));
