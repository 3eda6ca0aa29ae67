// Parsing and validation of manifest bodies (OCI image manifest and index,
// Docker schema2 manifest and manifest list). Pure functions over bytes: what
// a manifest references, checked for shape, so nothing malformed is stored.
import { RegistryError } from './errors.js';
import { parseDigest, type Digest } from './names.js';
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  MANIFEST_TYPES,
  OCI_INDEX,
  OCI_MANIFEST,
  isIndexType,
} from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface ParsedManifest {
  mediaType: string;
  /** Blobs the manifest needs in the repository (config and layers). */
  blobs: Array<{ digest: Digest; descriptor: Descriptor }>;
  /** Child manifests (index / manifest list). */
  manifests: Array<{ digest: Digest; descriptor: Descriptor }>;
  subject?: { digest: Digest; descriptor: Descriptor };
  /** artifactType, or the config media type for an image manifest (OCI 1.1 referrers rule). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw invalid(`${where} must be a map of strings`);
  }
  return v as Record<string, string>;
}

function descriptor(v: unknown, where: string): { digest: Digest; descriptor: Descriptor } {
  if (!isObject(v)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || !MEDIA_TYPE_RE.test(mediaType)) throw invalid(`${where}.mediaType is invalid`);
  if (typeof digest !== 'string') throw invalid(`${where}.digest is missing`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size is invalid`);
  let parsed: Digest;
  try {
    parsed = parseDigest(digest);
  } catch {
    throw invalid(`${where}.digest is invalid`, { digest: digest.slice(0, 200) });
  }
  if (v.artifactType !== undefined && (typeof v.artifactType !== 'string' || !MEDIA_TYPE_RE.test(v.artifactType))) {
    throw invalid(`${where}.artifactType is invalid`);
  }
  if (v.urls !== undefined && (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string'))) {
    throw invalid(`${where}.urls must be a list of strings`);
  }
  stringMap(v.annotations, `${where}.annotations`);
  return { digest: parsed, descriptor: v as unknown as Descriptor };
}

function descriptorList(v: unknown, where: string) {
  if (!Array.isArray(v)) throw invalid(`${where} must be a list`);
  return v.map((d, i) => descriptor(d, `${where}[${i}]`));
}

// Layers that are not distributable are fetched from their urls by clients,
// so the registry need not hold them.
function isForeignLayer(d: Descriptor): boolean {
  return Array.isArray(d.urls) && d.urls.length > 0;
}

/**
 * Parse a manifest body. `contentType` is the request's Content-Type (may be
 * empty); when both it and the body's mediaType are present they must agree.
 */
export function parseManifest(body: Buffer, contentType: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (doc.mediaType !== undefined && declared === undefined) throw invalid('mediaType must be a string');
  const ct = contentType.split(';')[0]!.trim().toLowerCase();
  const headerType = ct === '' || ct === 'application/json' || ct === 'application/octet-stream' ? undefined : ct;
  if (headerType === DOCKER_SCHEMA1 || headerType === DOCKER_SCHEMA1_SIGNED || doc.schemaVersion === 1) {
    throw invalid('Docker schema 1 manifests are not supported; push schema 2 or OCI');
  }
  if (headerType && declared && headerType !== declared) {
    throw invalid('Content-Type does not match the manifest mediaType', { contentType: headerType, mediaType: declared });
  }
  let mediaType = headerType ?? declared;
  if (!mediaType) {
    // OCI allows an image manifest without mediaType; infer from shape.
    mediaType = Array.isArray(doc.manifests) ? OCI_INDEX : isObject(doc.config) ? OCI_MANIFEST : undefined;
  }
  if (!mediaType || !MANIFEST_TYPES.includes(mediaType)) {
    throw invalid('unsupported manifest media type', { mediaType: mediaType ?? null });
  }
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const annotations = stringMap(doc.annotations, 'annotations');
  const subject = doc.subject === undefined ? undefined : descriptor(doc.subject, 'subject');
  if (subject && (mediaType === DOCKER_MANIFEST || mediaType === DOCKER_MANIFEST_LIST)) {
    throw invalid('subject is only allowed in OCI manifests');
  }
  if (doc.artifactType !== undefined && (typeof doc.artifactType !== 'string' || !MEDIA_TYPE_RE.test(doc.artifactType))) {
    throw invalid('artifactType is invalid');
  }
  if (isIndexType(mediaType)) {
    const manifests = descriptorList(doc.manifests, 'manifests');
    return {
      mediaType,
      blobs: [],
      manifests,
      subject,
      artifactType: doc.artifactType as string | undefined,
      annotations,
    };
  }
  const config = descriptor(doc.config, 'config');
  const layers = descriptorList(doc.layers, 'layers');
  const blobs = [config, ...layers.filter((l) => !isForeignLayer(l.descriptor))];
  const artifactType = (doc.artifactType as string | undefined) ?? config.descriptor.mediaType;
  return { mediaType, blobs, manifests: [], subject, artifactType, annotations };
}
