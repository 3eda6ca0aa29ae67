// `wharf check-config`: exit codes say which step failed (0 fine, 2 usage,
// 3 invalid configuration, 4 store unreachable); the configuration in force
// is printed with every secret redacted. The cases run the command
// in-process; --help and a usage error go through a real `wharf` process
// (arguments in, exit status out).
//   npm run build && node --test --test-concurrency=1 dist/test/http/check-config.test.js
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { checkConfigCommand } from '../../src/cli/check-config.js';
import { runCommand, runWharf } from '../helpers/cli.js';
import { freePort } from '../helpers/wharf.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-check-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function configFile(registry: Record<string, unknown> | string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, typeof registry === 'string' ? registry : stringify({ registry }));
  return p;
}

const run = (args: string[], env: Record<string, string> = {}) => runCommand(checkConfigCommand, args, env);

describe('wharf check-config', () => {
  it('a valid configuration: exit 0, the effective configuration with secrets redacted, the store answered', async () => {
    const p = configFile({
      secret: 'the-signing-secret',
      users: [{ name: 'ci', pass: 'plain-pw', access: 'write' }],
      storage: { driver: 'filesystem', root: join(dir, 'data') },
      notifications: { endpoints: [{ name: 'ci', url: 'http://127.0.0.1:1/h', headers: { Authorization: 'Bearer hook-token' } }] },
    });
    const r = await run(['--config', p], { WHARF_READ_ONLY: 'true' });
    assert.equal(r.status, 0, r.stderr);
    for (const s of ['the-signing-secret', 'plain-pw', 'hook-token']) assert.ok(!r.stdout.includes(s), `${s} printed:\n${r.stdout}`);
    const doc = parse(r.stdout) as { registry: Record<string, any> };
    assert.equal(doc.registry.secret, '<redacted>');
    assert.equal(doc.registry.users[0].pass, '<redacted>');
    assert.equal(doc.registry['read-only'], true, 'environment overrides are applied');
    assert.equal(doc.registry['shutdown-timeout'], 30, 'defaults are filled in');
    assert.match(r.stderr, /configuration: valid/);
    assert.match(r.stderr, /storage: filesystem answered in \d+ ms/);
  });

  it('an invalid configuration: exit 3 naming the key; nothing printed on stdout', async () => {
    for (const [cfg, key] of [
      [{ port: 'abc' }, /registry\.port/],
      [{ 'trusted-proxies': ['not-an-ip'] }, /registry\.trusted-proxies/],
      [{ notifications: { endpoints: [{ url: 'ftp://x/' }] } }, /endpoints\[0\]\.url/],
      [{ users: [{ name: 'ci', pass: '$2b$10$broken' }] }, /users\[0\]\.pass/],
      [{ 'tls-cert': join(dir, 'missing.crt'), 'tls-key': join(dir, 'missing.key') }, /tls-cert/],
      ['registry: [oops', /not valid YAML/],
    ] as const) {
      const r = await run(['--config', configFile(cfg as Record<string, unknown> | string)]);
      assert.equal(r.status, 3, `${JSON.stringify(cfg)}: ${r.stderr}`);
      assert.match(r.stderr, key);
      assert.equal(r.stdout, '');
    }
    const missing = await run(['--config', join(dir, 'nope.yaml')]);
    assert.equal(missing.status, 3);
  });

  it('a store that does not answer: exit 4 with the reason; --no-storage skips the check', async () => {
    const port = await freePort(); // nothing listens there
    const p = configFile({
      storage: {
        driver: 's3',
        endpoint: `http://127.0.0.1:${port}`,
        bucket: 'b',
        'access-key': 'k',
        'secret-key': 'the-s3-secret',
        timeout: 1,
      },
    });
    const r = await run(['--config', p, '--timeout', '5']);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /storage \(s3\): unreachable/);
    assert.ok(!r.stdout.includes('the-s3-secret'));
    const skip = await run(['--config', p, '--no-storage']);
    assert.equal(skip.status, 0, skip.stderr);
  });

  it('wrong arguments: exit 2; --help: exit 0', async () => {
    assert.equal(runWharf(['check-config', '--bogus']).status, 2);
    assert.equal((await run(['--timeout', 'soon'])).status, 2);
    const h = runWharf(['check-config', '--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /Exit codes/);
  });
});
