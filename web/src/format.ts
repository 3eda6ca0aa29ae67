// How numbers, times and digests are shown.
import { siBytes } from '../../src/http/ui/bytes.js';

/** Bytes in SI units, as podman and docker print image sizes (the same function as the page the server renders). */
export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return siBytes(n);
}

const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function dateTime(ms: number | string | undefined): string {
  if (ms === undefined) return '—';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : DATE.format(d);
}

export function isoTime(ms: number | string | undefined): string | undefined {
  if (ms === undefined) return undefined;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** "sha256:0123456789ab" — enough to tell digests apart on screen. */
export function shortDigest(d: string): string {
  const colon = d.indexOf(':');
  return colon < 0 ? d.slice(0, 19) : d.slice(0, colon + 13);
}

const KIND: Record<string, string> = {
  'application/vnd.oci.image.index.v1+json': 'OCI index',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  'application/vnd.oci.image.manifest.v1+json': 'OCI image manifest',
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker image manifest',
};

export function mediaTypeName(t: string): string {
  return KIND[t] ?? t;
}

export function isIndex(t: string): boolean {
  return t === 'application/vnd.oci.image.index.v1+json' || t === 'application/vnd.docker.distribution.manifest.list.v2+json';
}
