// Password handling: constant-time checks (the code path, not timing: plain
// passwords are compared as equal-length SHA-256 digests with
// timingSafeEqual, bcrypt/argon2 by their own constant-time compare, and an
// unknown user costs a real verification), bcrypt and argon2 hashes against a
// live server, `wharf hash-password`, and refusal to start on bad entries.
//   npm run build && node --test --test-concurrency=1 dist/test/http/auth*.test.js
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { describe, it, mock } from 'node:test';
import bcrypt from 'bcryptjs';
import { constantTimeEqual, loadArgon2, passwordKind, verifyPassword } from '../../src/http/auth/passwords.js';
import { UserStore } from '../../src/http/auth/users.js';
import { configFromObject } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { startWharf, WHARF_BIN } from '../helpers/wharf.js';
import { tokenRequest } from '../helpers/auth.js';

const quiet = createLogger('error', () => undefined);

describe('constant-time password checks (code path)', () => {
  it('plain passwords: always timingSafeEqual over two 32-byte digests, whatever the lengths', async () => {
    const spy = mock.method(crypto, 'timingSafeEqual');
    try {
      for (const guess of ['', 's', 'secre', 'secret', 'secret!', 'x'.repeat(10_000)]) {
        spy.mock.resetCalls();
        const ok = await verifyPassword('secret', guess);
        assert.equal(ok, guess === 'secret');
        assert.equal(spy.mock.callCount(), 1, `guess of length ${guess.length}`);
        const [a, b] = spy.mock.calls[0]!.arguments as [Buffer, Buffer];
        assert.equal(a.length, 32);
        assert.equal(b.length, 32);
      }
      assert.equal(constantTimeEqual('a', 'a'), true);
    } finally {
      spy.mock.restore();
    }
  });

  it('bcrypt entries are verified by bcrypt.compare (constant-time), never by string comparison', async () => {
    const hash = bcrypt.hashSync('pw', 4);
    assert.equal(passwordKind(hash), 'bcrypt');
    const spy = mock.method(bcrypt, 'compare');
    try {
      assert.equal(await verifyPassword(hash, 'pw'), true);
      assert.equal(await verifyPassword(hash, hash), false, 'the hash itself is not the password');
      assert.equal(spy.mock.callCount(), 2);
    } finally {
      spy.mock.restore();
    }
  });

  it('an unknown user costs a real verification against a configured entry, and never succeeds', async () => {
    const hash = bcrypt.hashSync('real-password', 4);
    const config = configFromObject({ registry: { users: [{ name: 'real', pass: hash, access: 'write' }] } }, {});
    const store = await UserStore.create(config, quiet);
    const spy = mock.method(bcrypt, 'compare');
    try {
      const r = await store.login('ghost', 'real-password', '127.0.0.1');
      assert.deepEqual(r, { ok: false, reason: 'invalid' });
      assert.equal(spy.mock.callCount(), 1, 'the dummy check ran');
      assert.equal(spy.mock.calls[0]!.arguments[1], hash);
      const good = await store.login('real', 'real-password', '127.0.0.1');
      assert.equal(good.ok, true);
    } finally {
      spy.mock.restore();
    }
  });

  it('a user name with a matching password prefix or different case does not log in', async () => {
    const config = configFromObject({ registry: { users: [{ name: 'ci', pass: 'pw', access: 'write' }] } }, {});
    const store = await UserStore.create(config, quiet);
    for (const [u, p] of [
      ['CI', 'pw'],
      ['ci', 'PW'],
      ['ci', 'pw '],
      ['ci ', 'pw'],
      ['ci', ''],
    ]) {
      assert.equal((await store.login(u!, p!, '127.0.0.9')).ok, false, `${u}:${p}`);
    }
  });
});

describe('password hashes against a live server', () => {
  it('wharf hash-password prints a bcrypt hash that logs in', async () => {
    const r = spawnSync(process.execPath, [WHARF_BIN, 'hash-password', '--cost', '5'], { input: 'hunter2-long-pass\n', encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const hash = r.stdout.trim();
    assert.match(hash, /^\$2b\$05\$[./A-Za-z0-9]{53}$/);
    assert.equal(bcrypt.compareSync('hunter2-long-pass', hash), true);
    const bad = spawnSync(process.execPath, [WHARF_BIN, 'hash-password', '--cost', '99'], { input: 'x', encoding: 'utf8' });
    assert.equal(bad.status, 2);
    const empty = spawnSync(process.execPath, [WHARF_BIN, 'hash-password'], { input: '\n', encoding: 'utf8' });
    assert.notEqual(empty.status, 0);

    let argon2Hash: string | undefined;
    try {
      argon2Hash = await ((await loadArgon2()) as unknown as { hash(p: string, o?: object): Promise<string> }).hash('argon-pass', {
        memoryCost: 4096,
        timeCost: 2,
      });
    } catch {
      /* argon2 is optional; checked below */
    }
    const users: object[] = [{ name: 'hashed', pass: hash, access: 'write' }];
    if (argon2Hash) users.push({ name: 'argon', pass: argon2Hash, access: 'read' });
    const w = await startWharf({ registry: { secret: 'pw-test-secret-0123456789abcdef0123456', users } });
    try {
      assert.doesNotMatch(w.output(), /plain-text passwords/);
      assert.equal((await tokenRequest(w.url, [], { user: 'hashed', pass: 'hunter2-long-pass' })).status, 200);
      assert.equal((await tokenRequest(w.url, [], { user: 'hashed', pass: 'hunter2' })).status, 401);
      assert.ok(argon2Hash, 'the optional argon2 package should load on this machine (prebuilt binary)');
      assert.equal((await tokenRequest(w.url, [], { user: 'argon', pass: 'argon-pass' })).status, 200);
      assert.equal((await tokenRequest(w.url, [], { user: 'argon', pass: 'argon-pas' })).status, 401);
    } finally {
      await w.cleanup();
    }
  });

  it('a malformed hash, an unknown user in a rule, or a bad token key stops the start with the key named', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ users: [{ name: 'u', pass: '$2b$10$tooshort' }] }, /users\[0\]\.pass.*malformed/],
      [
        { users: [{ name: 'u', pass: 'p' }], access: [{ repository: 'x/*', users: ['nobody'], actions: ['pull'] }] },
        /access\[0\]\.users: unknown user "nobody"/,
      ],
      [{ users: [{ name: 'u', pass: 'p' }], access: [{ repository: 'x/*', users: ['u'], actions: ['fly'] }] }, /unknown action "fly"/],
      [{ users: [{ name: 'a:b', pass: 'p' }] }, /users\[0\]\.name/],
      [{ users: [{ name: 'u', pass: 'p' }], 'token-key': '/nonexistent/key.pem' }, /token-key: cannot read/],
    ];
    for (const [registry, message] of cases) {
      await assert.rejects(startWharf({ registry }), (err: Error) => {
        assert.match(err.message, /exited during start/);
        assert.match(err.message, message);
        return true;
      });
    }
  });
});
