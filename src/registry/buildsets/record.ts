// A buildset namespace's record: what the admin API created, kept in the
// store at `_buildsets/<name>` so every replica sees it and a restart loses
// nothing. The `_` first component is never a namespace name, so the records
// are outside every namespace (prune, fsck and the catalog never see them).
import { randomBytes } from 'node:crypto';

export const RECORDS_PREFIX = '_buildsets/';

export const recordKey = (name: string) => `${RECORDS_PREFIX}${name}`;

export interface BuildsetRecord {
  name: string;
  /** ISO times. */
  createdAt: string;
  expiresAt: string;
  /** Mirror templates (configured mirror namespaces) the namespace shadows: `<template>/<repo>` falls back to that mirror. */
  mirrors: string[];
  /** Configured namespaces read, in order, when the namespace itself lacks a manifest, blob or tag list. */
  parents: string[];
  /** The generated credential: user "<name>@buildset", password stored as a bcrypt hash. */
  username: string;
  passwordHash: string;
  /** Set by DELETE: the record stays as a tombstone until prune has removed the namespace's content. */
  deletedAt?: string;
}

/** One DNS label: the Host pattern takes the first label of the host as the name. */
export const BUILDSET_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const USER_SUFFIX = '@buildset';

export function usernameFor(name: string): string {
  return `${name}${USER_SUFFIX}`;
}

/** The namespace a buildset user name belongs to, or null for any other name. */
export function namespaceOfUser(user: string): string | null {
  if (!user.endsWith(USER_SUFFIX)) return null;
  const ns = user.slice(0, -USER_SUFFIX.length);
  return BUILDSET_NAME_RE.test(ns) ? ns : null;
}

export function generateName(): string {
  // 12 base32 characters: 60 random bits, so generated names never collide in practice.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(12);
  let out = 'bs-';
  for (const b of bytes) out += alphabet[b & 31];
  return out;
}

export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Live (answering), or ended: deleted, or past its expiry (computed here, so expiry needs no coordination). */
export function isLive(r: BuildsetRecord, now = Date.now()): boolean {
  return r.deletedAt === undefined && Date.parse(r.expiresAt) > now;
}

/** When the namespace stopped (or will stop) answering. */
export function endedAt(r: BuildsetRecord): number {
  const expiry = Date.parse(r.expiresAt);
  return r.deletedAt === undefined ? expiry : Math.min(expiry, Date.parse(r.deletedAt));
}

export function parseRecord(buf: Buffer): BuildsetRecord | null {
  try {
    const v = JSON.parse(buf.toString('utf8')) as BuildsetRecord;
    if (typeof v?.name !== 'string' || typeof v.expiresAt !== 'string' || typeof v.passwordHash !== 'string') return null;
    if (!Array.isArray(v.mirrors) || !Array.isArray(v.parents)) return null;
    return v;
  } catch {
    return null;
  }
}
