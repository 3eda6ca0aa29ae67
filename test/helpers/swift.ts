// Ensures the Swift all-in-one (Swift API + S3 API on 127.0.0.1) is running,
// by running the project's own scripts/swift/start.sh (idempotent: ~0.2 s when
// it is already up), and returns its endpoints and credentials. Fails loudly
// when Swift cannot be started: tests that need it never skip silently.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const SWIFT_START = join(REPO_ROOT, 'scripts', 'swift', 'start.sh');

export interface SwiftEnv {
  /** tempauth v1 endpoint, e.g. http://127.0.0.1:8080/auth/v1.0 */
  authUrl: string;
  user: string;
  key: string;
  storageUrl: string;
  s3Endpoint: string;
  s3AccessKey: string;
  s3SecretKey: string;
  s3Region: string;
  /** Every variable start.sh printed. */
  raw: Record<string, string>;
}

/** Parse start.sh's stdout: one `export A=b C=d ...` line (values without spaces). */
export function parseExportLine(stdout: string): Record<string, string> {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('export '));
  if (!line) throw new Error(`no "export ..." line in start.sh output: ${JSON.stringify(stdout.slice(0, 500))}`);
  const env: Record<string, string> = {};
  for (const word of line.slice('export '.length).trim().split(/\s+/)) {
    const eq = word.indexOf('=');
    if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1).replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

let started: Promise<SwiftEnv> | undefined;

/** Start (or find running) the Swift all-in-one; memoized per process. */
export function ensureSwift(): Promise<SwiftEnv> {
  started ??= startSwift();
  return started;
}

async function startSwift(): Promise<SwiftEnv> {
  const timeoutS = Number(process.env.SWIFT_START_TIMEOUT) || 60;
  const t0 = Date.now();
  const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | string | null }>((res) => {
    execFile(
      'bash',
      [SWIFT_START],
      { cwd: REPO_ROOT, timeout: (timeoutS + 60) * 1000, maxBuffer: 16 << 20, env: process.env },
      (err, stdout, stderr) => res({ stdout, stderr, code: err ? ((err as { code?: number | string }).code ?? 'error') : 0 }),
    );
  });
  if (code !== 0) {
    throw new Error(
      `Swift all-in-one did not start (bash ${SWIFT_START} exited ${code} after ${Date.now() - t0} ms).\n` +
        `It needs Debian's swift packages: apt-get install -y swift swift-proxy swift-account swift-container swift-object\n` +
        `--- stderr ---\n${stderr.slice(-4000)}\n--- stdout ---\n${stdout.slice(-1000)}`,
    );
  }
  const raw = parseExportLine(stdout);
  const need = (k: string): string => {
    const v = raw[k];
    if (!v) throw new Error(`start.sh printed no ${k}: ${stdout}`);
    return v;
  };
  return {
    authUrl: need('SWIFT_AUTH_URL'),
    user: need('SWIFT_USER'),
    key: need('SWIFT_KEY'),
    storageUrl: need('SWIFT_STORAGE_URL'),
    s3Endpoint: need('S3_ENDPOINT'),
    s3AccessKey: need('S3_ACCESS_KEY'),
    s3SecretKey: need('S3_SECRET_KEY'),
    s3Region: need('S3_REGION'),
    raw,
  };
}

/** A fresh, valid container/bucket name (lowercase, S3-safe). */
export function uniqueName(prefix = 'wharf-test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** A tempauth token for the env's user (for raw checks with fetch). */
export async function swiftToken(env: SwiftEnv): Promise<{ token: string; storageUrl: string }> {
  const res = await fetch(env.authUrl, { headers: { 'X-Auth-User': env.user, 'X-Auth-Key': env.key } });
  await res.arrayBuffer();
  const token = res.headers.get('x-auth-token');
  const storageUrl = res.headers.get('x-storage-url');
  if (res.status !== 200 || !token || !storageUrl) throw new Error(`tempauth login failed: ${res.status}`);
  return { token, storageUrl };
}
