// Experiment: what a big pull costs the client, per server. Starts one server
// the way the bench does (`wharf` or `distribution`), pushes an N MiB blob,
// then pulls it `rounds` times and verifies every byte, printing the client's
// CPU (user and system), the server's CPU and how many reads of which size
// the client's body arrived in.
//
//   npm run build
//   MODE=undici|http node bench/experiments/pull-client-cost.mjs wharf|distribution MiB [rounds]
//
// MODE=undici reads as the bench's pull scenario does (undici Pool, for await
// over the body); MODE=http uses node:http.get.
import http from 'node:http';
import { RegistryClient } from '../../dist/bench/client.js';
import { Payload } from '../../dist/bench/payload.js';
import { startBenchServer } from '../../dist/bench/servers.js';

const [kind = 'wharf', mib = '1024', rounds = '1'] = process.argv.slice(2);
const mode = process.env.MODE ?? 'undici';
const server = await startBenchServer(kind, {});
const client = new RegistryClient(server.url, 4);
const payload = new Payload(Number(mib) * 1024 * 1024);
await client.pushMonolithic('bench/pull', payload);
const path = `/v2/bench/pull/blobs/${payload.digest}`;

async function pullUndici(onChunk) {
  const res = await client.pool.request({ method: 'GET', path });
  for await (const chunk of res.body) onChunk(chunk);
}

function pullHttp(onChunk) {
  return new Promise((resolve, reject) => {
    http
      .get(`${server.url}${path}`, (res) => {
        res.on('data', onChunk);
        res.on('end', resolve);
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

try {
  for (let r = 0; r < Number(rounds); r++) {
    const sizes = new Map();
    let reads = 0;
    const verifier = payload.verifier();
    const onChunk = (chunk) => {
      reads++;
      const bucket = 2 ** Math.ceil(Math.log2(chunk.length));
      sizes.set(bucket, (sizes.get(bucket) ?? 0) + 1);
      verifier.update(chunk);
    };
    const cpu0 = process.cpuUsage();
    const { window } = await server.measure(() => (mode === 'http' ? pullHttp(onChunk) : pullUndici(onChunk)));
    verifier.done();
    const cpu = process.cpuUsage(cpu0);
    console.log(
      JSON.stringify({
        kind,
        mode,
        mib: Number(mib),
        MBps: Math.round(payload.size / 1e6 / window.wallSeconds),
        clientUser: cpu.user / 1e6,
        clientSystem: cpu.system / 1e6,
        serverCpu: window.cpuSeconds,
        reads,
        readSizes: Object.fromEntries([...sizes].sort((a, b) => a[0] - b[0])),
      }),
    );
  }
} finally {
  await client.close();
  await server.stop();
}
