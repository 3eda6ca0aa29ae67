// `registry.buildsets`: namespaces created and ended at run time through the
// admin API (src/http/admin-api.ts, docs/buildsets.md). Absent: no admin API.
//
//   buildsets:
//     max-namespaces: 1000          # live buildset namespaces at once
//     max-bytes: 10737418240        # stored bytes per buildset namespace (0: no cap)
//     max-ttl: 604800               # longest TTL a create or extend may ask for (s)
//     hosts: ["*.buildsets.example.com"]   # Host patterns: the first label names the namespace
//     path-prefix: ns               # /v2/ns/<name>/<repo>/... reaches namespace <name>
//     parents: [intermediate]       # namespaces a buildset may name as read-only parents
//     credential-cost: 10           # bcrypt cost of generated passwords
import type { Reader } from './reader.js';

export interface BuildsetsConfig {
  maxNamespaces: number;
  /** 0: no cap. */
  maxBytes: number;
  maxTtlSeconds: number;
  /** Host suffixes (lower case, starting with '.'): `<name><suffix>` reaches namespace <name>. */
  hostSuffixes: string[];
  /** First repository component that, followed by a namespace name, reaches that namespace by path. */
  pathPrefix: string;
  /** Configured namespaces a buildset may fall back to (read only). */
  parents: string[];
  credentialCost: number;
}

export const BUILDSETS_KEYS = ['max-namespaces', 'max-bytes', 'max-ttl', 'hosts', 'path-prefix', 'parents', 'credential-cost'];

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function readBuildsets(parent: Reader, raw: unknown, known: readonly string[]): BuildsetsConfig | undefined {
  if (raw === undefined || raw === null || raw === false) return undefined;
  const r = parent.child('buildsets');
  r.only(BUILDSETS_KEYS);
  const hostSuffixes = r.stringList('hosts').map((h, i) => {
    const p = h.toLowerCase();
    if (!/^\*\.[a-z0-9.-]+$/.test(p)) r.fail(`hosts[${i}]`, `must look like "*.buildsets.example.com" (got ${JSON.stringify(h)})`);
    return p.slice(1);
  });
  const pathPrefix = r.string('path-prefix', 'ns');
  if (!LABEL_RE.test(pathPrefix)) r.fail('path-prefix', 'must be one repository name component (lower-case letters, digits, dashes)');
  const parents = r.stringList('parents');
  for (const p of parents) if (!known.includes(p)) r.fail('parents', `"${p}" is not a configured namespace`);
  return {
    maxNamespaces: r.integer('max-namespaces', 1000, 1, 1_000_000),
    maxBytes: r.integer('max-bytes', 10 * 1024 ** 3, 0),
    maxTtlSeconds: r.integer('max-ttl', 7 * 86400, 60, 366 * 86400),
    hostSuffixes,
    pathPrefix,
    parents,
    credentialCost: r.integer('credential-cost', 10, 4, 15),
  };
}
