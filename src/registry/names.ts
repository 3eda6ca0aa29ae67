// Validation of everything a client names: repositories, tags, digests,
// namespaces and upload ids. All of them end up in storage keys, so these
// checks are also what keeps path traversal out.
import { RegistryError } from './errors.js';
import type { HashAlgorithm } from '../digest/hash.js';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPO_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const NAMESPACE_RE = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$/;
const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Distribution's limit on the repository name length. */
export const MAX_REPO_NAME_LENGTH = 255;

const HEX_LENGTH: Record<HashAlgorithm, number> = { sha256: 64, sha512: 128 };

export interface Digest {
  algorithm: HashAlgorithm;
  hex: string;
  /** "<algorithm>:<hex>" */
  text: string;
}

export function validateRepoName(name: string): string {
  if (name.length === 0 || name.length > MAX_REPO_NAME_LENGTH || !REPO_RE.test(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { name: name.slice(0, 300) });
  }
  return name;
}

export function validateTag(tag: string): string {
  if (!TAG_RE.test(tag)) throw new RegistryError('TAG_INVALID', 'invalid tag', { tag: tag.slice(0, 200) });
  return tag;
}

export function isDigestReference(reference: string): boolean {
  return reference.includes(':');
}

/** Parse "<alg>:<hex>"; unknown algorithms and malformed hex are DIGEST_INVALID. */
export function parseDigest(text: string): Digest {
  const m = DIGEST_RE.exec(text);
  if (!m) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: text.slice(0, 200) });
  const algorithm = m[1] as HashAlgorithm;
  const hex = m[2]!;
  const want = HEX_LENGTH[algorithm];
  if (want === undefined || !Object.hasOwn(HEX_LENGTH, algorithm)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${m[1]}`, { digest: text.slice(0, 200) });
  }
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: text.slice(0, 200) });
  }
  return { algorithm, hex, text };
}

export function validateNamespace(ns: string): string {
  if (!NAMESPACE_RE.test(ns)) throw new RegistryError('NAME_INVALID', 'invalid namespace', { namespace: ns.slice(0, 300) });
  return ns;
}

export function validateUploadId(id: string): string {
  if (!UPLOAD_ID_RE.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown', { uuid: id.slice(0, 100) });
  return id;
}
