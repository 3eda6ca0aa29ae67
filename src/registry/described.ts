// The shapes in which the server describes manifests and tags to people:
// what describe.ts and tag-rows.ts answer with, and what the web UI reads
// (web/src/api.ts imports these types, so both sides spell them once).
// Types only, importing nothing: the UI's bundle takes no code from here, and
// its type check (web/tsconfig.json, no Node types) can read this file.

export interface Blob {
  digest: string;
  mediaType: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ChildManifest extends Blob {
  platform?: { architecture?: string; os?: string; variant?: string; 'os.version'?: string };
  artifactType?: string;
  /** Whether the repository holds this child (a mirror fetches children only when asked). */
  held: boolean;
}

export interface HistoryEntry {
  created?: string;
  createdBy?: string;
  comment?: string;
  author?: string;
  emptyLayer?: boolean;
}

export interface ImageDetails {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  user?: string;
  workingDir?: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  labels?: Record<string, string>;
  exposedPorts?: string[];
  volumes?: string[];
  stopSignal?: string;
  history?: HistoryEntry[];
}

/** A manifest that refers to another one (a signature, an SBOM...). */
export interface ReferrerDescriptor extends Blob {
  artifactType?: string;
}

export interface ReferrerGroup {
  artifactType: string;
  manifests: ReferrerDescriptor[];
}

export interface ManifestDescription {
  digest: string;
  mediaType: string;
  /** Bytes of the manifest itself. */
  size: number;
  /** When it was pushed to (or cached in) this repository, ms since epoch. */
  pushed?: number;
  /** 'upstream' when a mirror namespace cached it from its upstream. */
  origin?: 'upstream';
  kind: 'index' | 'image' | 'artifact';
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  /** Index: its manifests (platforms). */
  manifests?: ChildManifest[];
  /** Image or artifact: config and layers. */
  config?: Blob;
  layers?: Blob[];
  /** Manifest + config + layers (image); the index plus each child's total, or its descriptor's size when not held (index). */
  totalSize?: number;
  image?: ImageDetails;
  /** Why `image` is missing although the config is an image config. */
  imageProblem?: string;
  referrers: ReferrerGroup[];
}

/** A short summary for lists (tag rows): media type, total size, platforms. */
export interface ManifestSummary {
  mediaType: string;
  size: number;
  totalSize?: number;
  platforms?: string[];
  artifactType?: string;
  origin?: 'upstream';
}

/** One row of a repository's tag list. */
export interface TagRow {
  name: string;
  digest: string;
  /** ms since epoch: push time, or for an upstream tag when the upstream was last asked. */
  pushed: number;
  /** 'pushed': a tag of the namespace; 'upstream': a mirror's cached answer from its upstream. */
  source: 'pushed' | 'upstream';
  /** What the tag points at; absent when the repository does not hold that manifest. */
  manifest?: ManifestSummary;
}
