// The Swift driver's settings: what a program passes (SwiftConfig), how the
// keys of `registry.storage` become that (swiftOptions: adding a Swift
// option touches this file only), and the values the driver runs with,
// defaults filled in (swiftSettings). Pure data and parsing: nothing here
// talks to Swift, and the config reader imports it.
import type { DriverOptions } from '../options.js';
import type { RetryOptions } from '../retry.js';

export interface SwiftConfig extends RetryOptions {
  /** Auth endpoint: e.g. http://host:8080/auth/v1.0 (v1) or https://keystone:5000/v3 (v3). */
  authUrl?: string;
  username?: string;
  password?: string;
  /** Container holding every object; created at first write when missing. */
  container: string;
  /** 1 (tempauth/swauth) or 3 (Keystone). Default: guessed from authUrl/projectName. */
  authVersion?: 1 | 3 | '1' | '1.0' | '3' | 'v1' | 'v3';
  projectName?: string;
  projectId?: string;
  /** Default "Default". */
  projectDomainName?: string;
  projectDomainId?: string;
  /** Default "Default". */
  userDomainName?: string;
  userDomainId?: string;
  /** Region of the object-store endpoint in the Keystone catalog. */
  region?: string;
  /** Catalog interface: public (default), internal or admin. */
  interface?: string;
  /** Name of a cloud in clouds.yaml; its settings fill in what is not set here. */
  cloud?: string;
  /** TempURL key: set on the account at the first presign (Temp-URL-Key or, when that holds another key, Temp-URL-Key-2). */
  tempUrlKey?: string;
  /** Use this storage URL instead of the one auth returns. */
  storageUrl?: string;
  /** A token to start with (pre-authenticated); replaced via auth on its first 401. */
  token?: string;
  /** Parallel HEADs/DELETEs in concat and cleanup (default 8). */
  concurrency?: number;
  /** Container for the segments of large objects (default `<container>_segments`). */
  segmentContainer?: string;
  /** Objects of at least this many bytes are stored as segments + SLO manifest (default 1 MiB). */
  segmentThreshold?: number;
  /** Largest segment in bytes (default 1 GiB; Swift's own limit is 5 GiB). */
  segmentSize?: number;
  /** Most segments in one manifest before manifests nest (Swift's max_manifest_segments, default 1000). */
  maxManifestSegments?: number;
}

export const swiftOptions: DriverOptions<SwiftConfig> = {
  keys: [
    'auth-url',
    'username',
    'password',
    'container',
    'auth-version',
    'project-name',
    'project-id',
    'project-domain-name',
    'project-domain-id',
    'user-domain-name',
    'user-domain-id',
    'region',
    'interface',
    'cloud',
    'temp-url-key',
  ],
  redirects: true,
  read(r, { redirect }) {
    const cloud = r.optionalString('cloud');
    const authVersion = r.optionalString('auth-version');
    if (authVersion !== undefined && !['1', '1.0', 'v1', '3', 'v3'].includes(authVersion)) {
      r.fail('auth-version', `must be 1 (tempauth/swauth) or 3 (Keystone) (got ${JSON.stringify(authVersion)})`);
    }
    const iface = r.optionalString('interface');
    if (iface !== undefined && !['public', 'internal', 'admin'].includes(iface)) {
      r.fail('interface', `must be public, internal or admin (got ${JSON.stringify(iface)})`);
    }
    // Every replica must sign TempURLs with the same key, so none is made up here.
    if (redirect && r.optionalString('temp-url-key') === undefined) {
      r.fail('redirect', 'needs temp-url-key (the key Swift TempURLs are signed with; the same on every replica)');
    }
    return {
      cloud,
      authUrl: cloud ? r.optionalString('auth-url') : r.string('auth-url'),
      username: cloud ? r.optionalString('username') : r.string('username'),
      password: cloud ? r.optionalString('password') : r.string('password'),
      container: r.string('container'),
      authVersion: authVersion === undefined ? undefined : authVersion.includes('3') ? '3' : '1',
      projectName: r.optionalString('project-name'),
      projectId: r.optionalString('project-id'),
      projectDomainName: r.optionalString('project-domain-name'),
      projectDomainId: r.optionalString('project-domain-id'),
      userDomainName: r.optionalString('user-domain-name'),
      userDomainId: r.optionalString('user-domain-id'),
      region: r.optionalString('region'),
      interface: iface,
      tempUrlKey: r.optionalString('temp-url-key'),
    };
  },
  show: (s, secret) => ({
    cloud: s.cloud,
    'auth-url': s.authUrl,
    'auth-version': s.authVersion,
    username: s.username,
    password: secret(s.password),
    container: s.container,
    'project-name': s.projectName,
    'project-id': s.projectId,
    'project-domain-name': s.projectDomainName,
    'project-domain-id': s.projectDomainId,
    'user-domain-name': s.userDomainName,
    'user-domain-id': s.userDomainId,
    region: s.region,
    interface: s.interface,
    'temp-url-key': secret(s.tempUrlKey),
  }),
};

/** Swift's default max_manifest_segments. */
export const MAX_SLO_SEGMENTS = 1000;

/** What the driver runs with: a SwiftConfig checked, with its defaults filled in. */
export interface SwiftSettings {
  authVersion: 1 | 3;
  container: string;
  segmentContainer: string;
  segmentThreshold: number;
  segmentSize: number;
  maxSegments: number;
  concurrency: number;
}

/** Check `cfg` (a named cloud already merged in) and fill in the defaults; a TypeError names what is wrong. */
export function swiftSettings(cfg: SwiftConfig): SwiftSettings {
  if (!cfg.container) throw new TypeError('swift: container is required');
  if (!cfg.authUrl && !(cfg.storageUrl && cfg.token)) throw new TypeError('swift: authUrl is required');
  return {
    authVersion: guessAuthVersion(cfg),
    container: cfg.container,
    segmentContainer: cfg.segmentContainer ?? `${cfg.container}_segments`,
    segmentThreshold: Math.max(1, cfg.segmentThreshold ?? 1024 * 1024),
    segmentSize: Math.max(1, Math.min(cfg.segmentSize ?? 1024 ** 3, 5 * 1024 ** 3)),
    maxSegments: Math.max(2, cfg.maxManifestSegments ?? MAX_SLO_SEGMENTS),
    concurrency: Math.max(1, cfg.concurrency ?? 8),
  };
}

/** The auth protocol: as configured, else guessed from the URL's path, else 3 when a project is named. */
export function guessAuthVersion(c: SwiftConfig): 1 | 3 {
  const v = c.authVersion === undefined ? undefined : String(c.authVersion).replace(/^v/, '');
  if (v === '1' || v === '1.0') return 1;
  if (v === '3') return 3;
  if (v !== undefined) throw new TypeError(`swift: unsupported authVersion ${c.authVersion} (1 or 3)`);
  const u = c.authUrl ?? '';
  if (/\/v3\/?$/.test(u) || /\/v3\//.test(u)) return 3;
  if (/\/(auth\/)?v1(\.0)?\/?$/.test(u)) return 1;
  return c.projectName || c.projectId ? 3 : 1;
}
