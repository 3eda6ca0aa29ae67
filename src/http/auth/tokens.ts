// Signed JWTs (Docker token authentication): access tokens carrying the
// granted `access` list and the namespace, and refresh tokens for the OAuth2
// flow. HS256 with the configured `secret`, or RS256/ES256/EdDSA with
// `token-key`. Verification accepts exactly the configured algorithm and key
// (no `alg: none`, no HS/RS confusion), issuer, audience and type, and
// rejects expired tokens.
import { createHash, createPrivateKey, createPublicKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import type { ResourceScope } from './scopes.js';

const ACCESS_TYP = 'JWT';
const REFRESH_TYP = 'wharf-refresh+jwt';
/** Tolerated clock difference between replicas (s). */
const CLOCK_TOLERANCE = 30;
/** Longer tokens are refused without parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

export class TokenError extends Error {
  constructor(
    message: string,
    readonly expired = false,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export interface AccessToken {
  sub: string;
  ns: string;
  access: ResourceScope[];
  exp: number;
}

export interface RefreshToken {
  sub: string;
  /** Fingerprint of the user's configured password entry: a changed password ends the refresh token. */
  pwf: string;
}

export interface Issued {
  token: string;
  expiresIn: number;
  issuedAt: string;
}

type SigningKey = { alg: string; sign: KeyObject | Uint8Array; verify: KeyObject | Uint8Array };

function algFor(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'rsa-pss') return 'PS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
    throw new Error(`token-key: EC curve ${curve} is not supported (use P-256, P-384 or P-521)`);
  }
  throw new Error(`token-key: key type ${type} is not supported (use RSA, EC or Ed25519)`);
}

function loadKey(config: Config, log: Logger): SigningKey {
  if (config.auth.tokenKey !== undefined) {
    let pem: Buffer;
    try {
      pem = readFileSync(config.auth.tokenKey);
    } catch (err) {
      throw new Error(`token-key: cannot read ${config.auth.tokenKey}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    let priv: KeyObject;
    try {
      priv = createPrivateKey(pem);
    } catch (err) {
      throw new Error(`token-key: ${config.auth.tokenKey} is not a PEM private key: ${(err as Error).message}`);
    }
    return { alg: algFor(priv), sign: priv, verify: createPublicKey(priv) };
  }
  let secret = config.secret;
  if (secret === undefined) {
    log.warn('no `secret` configured: tokens are signed with a random key and are valid only in this process until it stops');
    secret = randomBytes(32).toString('base64');
  } else if (Buffer.byteLength(secret) < 32) {
    log.warn('`secret` is shorter than 32 bytes: use a long random string (it signs the tokens)');
  }
  const key = new Uint8Array(Buffer.from(secret, 'utf8'));
  return { alg: 'HS256', sign: key, verify: key };
}

export class TokenService {
  private readonly key: SigningKey;
  readonly service: string;
  readonly expirySeconds: number;
  readonly refreshExpirySeconds: number;
  private readonly fingerprintSalt: Buffer;

  constructor(config: Config, log: Logger) {
    this.key = loadKey(config, log);
    this.service = config.auth.service;
    this.expirySeconds = config.auth.tokenExpirySeconds;
    this.refreshExpirySeconds = config.auth.refreshTokenExpirySeconds;
    // Shared by replicas with the same secret/key, so their refresh tokens agree.
    this.fingerprintSalt = createHash('sha256')
      .update(this.key.verify instanceof Uint8Array ? this.key.verify : this.key.verify.export({ type: 'spki', format: 'der' }))
      .digest();
  }

  get algorithm(): string {
    return this.key.alg;
  }

  /** A short, salted fingerprint of a configured password entry (never the password). */
  passwordFingerprint(stored: string): string {
    return createHash('sha256').update(this.fingerprintSalt).update(stored).digest('base64url').slice(0, 22);
  }

  async issueAccess(sub: string, ns: string, access: ResourceScope[]): Promise<Issued> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access, ns })
      .setProtectedHeader({ alg: this.key.alg, typ: ACCESS_TYP })
      .setIssuer(this.service)
      .setAudience(this.service)
      .setSubject(sub)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + this.expirySeconds)
      .setJti(randomUUID())
      .sign(this.key.sign);
    return { token, expiresIn: this.expirySeconds, issuedAt: new Date(now * 1000).toISOString() };
  }

  async issueRefresh(sub: string, pwf: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ pwf })
      .setProtectedHeader({ alg: this.key.alg, typ: REFRESH_TYP })
      .setIssuer(this.service)
      .setAudience(`${this.service}/refresh`)
      .setSubject(sub)
      .setIssuedAt(now)
      .setExpirationTime(now + this.refreshExpirySeconds)
      .setJti(randomUUID())
      .sign(this.key.sign);
  }

  private async verify(token: string, typ: string, audience: string): Promise<JWTPayload> {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('token too long');
    try {
      const { payload } = await jwtVerify(token, this.key.verify, {
        algorithms: [this.key.alg],
        issuer: this.service,
        audience,
        typ,
        clockTolerance: CLOCK_TOLERANCE,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      return payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TokenError('token expired', true);
      throw new TokenError(err instanceof joseErrors.JOSEError ? `invalid token (${err.code})` : 'invalid token');
    }
  }

  async verifyAccess(token: string): Promise<AccessToken> {
    const p = await this.verify(token, ACCESS_TYP, this.service);
    if (typeof p.sub !== 'string' || typeof p.ns !== 'string' || !Array.isArray(p.access)) throw new TokenError('invalid token claims');
    const access: ResourceScope[] = [];
    for (const a of p.access as unknown[]) {
      const e = a as Partial<ResourceScope>;
      if (
        typeof e !== 'object' ||
        e === null ||
        (e.type !== 'repository' && e.type !== 'registry') ||
        typeof e.name !== 'string' ||
        !Array.isArray(e.actions) ||
        !e.actions.every((x) => typeof x === 'string')
      ) {
        throw new TokenError('invalid token claims');
      }
      access.push({ type: e.type, name: e.name, actions: e.actions });
    }
    return { sub: p.sub, ns: p.ns, access, exp: p.exp! };
  }

  async verifyRefresh(token: string): Promise<RefreshToken> {
    const p = await this.verify(token, REFRESH_TYP, `${this.service}/refresh`);
    if (typeof p.sub !== 'string' || p.sub === '' || typeof p.pwf !== 'string') throw new TokenError('invalid token claims');
    return { sub: p.sub, pwf: p.pwf };
  }
}
