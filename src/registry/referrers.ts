// OCI 1.1 referrers: manifests whose `subject` points at another manifest.
// Stored as one descriptor object per (subject, referrer) pair.
import { layout } from './layout.js';
import { parseDigest, type Digest } from './names.js';
import type { Descriptor } from './manifest-parse.js';
import { listAll, type Scope } from './scope.js';

export async function addReferrer(s: Scope, repo: string, subject: Digest, d: Digest, desc: Descriptor): Promise<void> {
  await s.driver.put(layout.referrer(s.ns, repo, subject, d), Buffer.from(JSON.stringify(desc)));
}

export async function removeReferrer(s: Scope, repo: string, subject: Digest, d: Digest): Promise<void> {
  await s.driver.delete(layout.referrer(s.ns, repo, subject, d));
}

/** Descriptors of the manifests that refer to `subject`, optionally only of one artifactType. */
export async function listReferrers(s: Scope, repo: string, subject: Digest, artifactType?: string): Promise<Descriptor[]> {
  const prefix = layout.referrersOf(s.ns, repo, subject);
  const keys: string[] = [];
  for await (const e of listAll(s.driver, prefix, { delimiter: '/' })) {
    if (!e.prefix) keys.push(e.key);
  }
  const found = await Promise.all(
    keys.map(async (k) => {
      const raw = await s.driver.get(k);
      if (!raw) return null;
      try {
        const desc = JSON.parse(raw.toString('utf8')) as Descriptor;
        parseDigest(desc.digest);
        return desc;
      } catch {
        return null;
      }
    }),
  );
  return found.filter((d): d is Descriptor => d !== null && (!artifactType || d.artifactType === artifactType));
}
