// Checking a user name and password: throttled per user+address, verified in
// constant time (an unknown user costs as much as a wrong password), with a
// short-lived in-memory cache of successful checks so Basic auth on every API
// request does not pay bcrypt/argon2 each time.
import crypto from 'node:crypto';
import type { Config, UserConfig } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import { dummyPassword, loadArgon2, passwordKind, storedPasswordProblem, verifyPassword } from './passwords.js';
import { LoginThrottle } from './throttle.js';
import type { BuildsetDirectory } from '../../registry/buildsets/directory.js';
import { namespaceOfUser } from '../../registry/buildsets/record.js';

export type LoginResult =
  | { ok: true; user: UserConfig }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'throttled'; retryAfterSeconds: number };

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 1000;

export class UserStore {
  private readonly users: Map<string, UserConfig>;
  private readonly dummy: string;
  private readonly throttle: LoginThrottle;
  /** HMAC(key, name, stored entry, password) -> expiry; the key never leaves the process. */
  private readonly cache = new Map<string, number>();
  private readonly cacheKey = crypto.randomBytes(32);

  private constructor(
    config: Config,
    private readonly buildsets?: BuildsetDirectory,
  ) {
    this.users = new Map(config.users.map((u) => [u.name, u]));
    this.dummy = dummyPassword(config.users[0]?.pass);
    this.throttle = new LoginThrottle({
      maxFailures: config.auth.maxFailures,
      windowMs: config.auth.windowSeconds * 1000,
    });
  }

  /** Validate the configured passwords, load argon2 if needed, and warn about plain-text ones. */
  static async create(config: Config, log: Logger, buildsets?: BuildsetDirectory): Promise<UserStore> {
    const plain: string[] = [];
    let argon2 = false;
    for (const [i, u] of config.users.entries()) {
      const problem = storedPasswordProblem(u.pass);
      if (problem) throw new Error(`registry.users[${i}].pass (user "${u.name}"): ${problem}`);
      const kind = passwordKind(u.pass);
      if (kind === 'plain') plain.push(u.name);
      if (kind === 'argon2') argon2 = true;
    }
    if (argon2) await loadArgon2();
    if (plain.length > 0) {
      log.warn('plain-text passwords in the configuration: store bcrypt hashes instead (`wharf hash-password`)', {
        users: plain,
      });
    }
    return new UserStore(config, buildsets);
  }

  /**
   * A buildset namespace's generated user ("<ns>@buildset"): its record read
   * from the store now (a deleted or expired namespace's credentials are
   * refused at once on every replica), its password checked against the
   * stored hash.
   */
  private async buildsetUser(name: string): Promise<UserConfig | undefined> {
    const ns = namespaceOfUser(name);
    if (ns === null || !this.buildsets) return undefined;
    const found = await this.buildsets.lookup(ns, true);
    if (found.kind !== 'live' || found.record.username !== name) return undefined;
    return { name, pass: found.record.passwordHash, access: 'none', groups: [], admin: false };
  }

  get(name: string): UserConfig | undefined {
    return this.users.get(name);
  }

  private cacheId(name: string, stored: string, pass: string): string {
    return crypto.createHmac('sha256', this.cacheKey).update(`${name}\0${stored}\0`).update(pass).digest('base64');
  }

  /** Check a login from `address`. */
  async login(name: string, pass: string, address: string): Promise<LoginResult> {
    const attempt = this.throttle.attempt(name, address);
    if (!attempt.ok) return { ok: false, reason: 'throttled', retryAfterSeconds: attempt.retryAfterSeconds };
    let ok = false;
    try {
      const user = this.users.get(name) ?? (await this.buildsetUser(name));
      // The same work whether or not the user exists; an unknown user's result is discarded.
      const stored = user?.pass ?? this.dummy;
      const id = this.cacheId(name, stored, pass);
      const cached = this.cache.get(id);
      if (user && cached !== undefined && cached > Date.now()) {
        ok = true;
      } else {
        const match = await verifyPassword(stored, pass);
        ok = user !== undefined && match;
        if (ok && passwordKind(stored) !== 'plain') this.remember(id);
      }
      return ok && user ? { ok: true, user } : { ok: false, reason: 'invalid' };
    } finally {
      attempt.done(ok);
    }
  }

  private remember(id: string): void {
    const now = Date.now();
    if (this.cache.size >= CACHE_MAX) {
      for (const [k, exp] of this.cache) if (exp <= now || this.cache.size >= CACHE_MAX) this.cache.delete(k);
    }
    this.cache.set(id, now + CACHE_TTL_MS);
  }
}
