// Password verification: plain text (zuul-registry compatibility), bcrypt and
// argon2 hashes. Every comparison takes the same path whatever the input:
// plain passwords are compared as SHA-256 digests of equal length with
// timingSafeEqual, bcrypt and argon2 compare in constant time themselves, and
// an unknown user is checked against a dummy entry of the same kind.
import crypto from 'node:crypto';
import bcrypt from 'bcryptjs';

export type PasswordKind = 'plain' | 'bcrypt' | 'argon2';

const BCRYPT_RE = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
const ARGON2_RE = /^\$argon2(?:id|i|d)\$/;

export function passwordKind(stored: string): PasswordKind {
  if (stored.startsWith('$2')) return 'bcrypt';
  if (ARGON2_RE.test(stored)) return 'argon2';
  return 'plain';
}

/** A problem with a configured password entry (e.g. a truncated hash), or null. */
export function storedPasswordProblem(stored: string): string | null {
  switch (passwordKind(stored)) {
    case 'bcrypt': {
      const m = BCRYPT_RE.exec(stored);
      if (!m) return 'looks like a bcrypt hash but is malformed (expected $2b$NN$ + 53 characters)';
      const cost = Number(m[1]);
      if (cost < 4 || cost > 31) return `bcrypt cost ${cost} out of range 4..31`;
      return null;
    }
    case 'argon2':
      return /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?[a-z]=\d+(?:,[a-z]=\d+)*\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.test(stored)
        ? null
        : 'looks like an argon2 hash but is malformed (expected the PHC format $argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>)';
    case 'plain':
      return null;
  }
}

export function bcryptCost(stored: string): number | undefined {
  const m = BCRYPT_RE.exec(stored);
  return m ? Number(m[1]) : undefined;
}

type Argon2 = { verify(hash: string, password: string | Buffer): Promise<boolean> };
let argon2: Promise<Argon2> | undefined;

/**
 * The optional `argon2` package (prebuilt N-API binaries for linux/darwin/
 * windows/freebsd, no compiler needed). Loaded only when an argon2 hash is
 * configured; a failure names the cause at start.
 */
export function loadArgon2(): Promise<Argon2> {
  argon2 ??= import('argon2').then(
    (m) => (m as unknown as { default?: Argon2 }).default ?? (m as unknown as Argon2),
    (err: unknown) => {
      argon2 = undefined;
      throw new Error(`argon2 password hashes need the optional package "argon2", which could not be loaded: ${(err as Error).message}`);
    },
  );
  return argon2;
}

function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time comparison of two strings of any lengths (their SHA-256 digests are compared). */
export function constantTimeEqual(a: string, b: string): boolean {
  return crypto.timingSafeEqual(digest(a), digest(b));
}

/** Does `given` match the configured `stored` password (plain, bcrypt or argon2)? Never throws for a wrong password. */
export async function verifyPassword(stored: string, given: string): Promise<boolean> {
  switch (passwordKind(stored)) {
    case 'plain':
      return constantTimeEqual(stored, given);
    case 'bcrypt':
      // bcryptjs accepts $2a$, $2b$ and $2y$ and compares the results in constant time.
      return bcrypt.compare(given, stored).catch(() => false);
    case 'argon2':
      return (await loadArgon2()).verify(stored, given).catch(() => false);
  }
}

/** bcrypt hash for `wharf hash-password` (cost 4..31; 12 by default). */
export function hashPassword(password: string, cost = 12): Promise<string> {
  return bcrypt.hash(password, cost);
}

/**
 * What an unknown user's password is checked against: a configured user's
 * entry (same kind and cost, so "no such user" takes as long as "wrong
 * password"). The caller discards the result.
 */
export function dummyPassword(like: string | undefined): string {
  return like ?? crypto.randomBytes(18).toString('base64');
}
