// The image's HEALTHCHECK: GET /healthz where Wharf's own configuration says
// it listens (the admin listener when `registry.admin` is set), so a changed
// port or TLS in the mounted config needs no change here. Exit 0 = healthy.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { loadConfig } from './dist/src/config/config.js';

const TIMEOUT_MS = 4000;

function loopback(address) {
  // A wildcard listen address is reached on loopback.
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

const config = loadConfig(process.env.WHARF_CONFIG);
const admin = config.ops?.admin;
const tls = admin === undefined && config.tlsCert !== undefined;
const target = {
  host: loopback(admin?.address ?? config.address),
  port: admin?.port ?? config.port,
  path: '/healthz',
  method: 'GET',
  timeout: TIMEOUT_MS,
  // Liveness of our own process on loopback: the certificate's name is not the point.
  rejectUnauthorized: false,
};
const req = (tls ? httpsRequest : httpRequest)(target, (res) => {
  res.resume();
  if (res.statusCode === 200) process.exit(0);
  console.error(`wharf healthcheck: /healthz answered ${res.statusCode}`);
  process.exit(1);
});
req.on('timeout', () => req.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
req.on('error', (err) => {
  console.error(`wharf healthcheck: ${err.message}`);
  process.exit(1);
});
req.end();
