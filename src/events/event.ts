// Registry events in CNCF Distribution's notification format, so receivers
// written for Distribution work unchanged: an envelope
// {"events": [...]} posted as application/vnd.docker.distribution.events.v1+json,
// each event with id, timestamp, action, target, request, actor and source —
// the same field names. Wharf adds `target.namespace` (the namespace the
// repository lives in; receivers that do not know it ignore it) and the
// action `mirror` (a mirror namespace stored content fetched from upstream).
import { randomUUID } from 'node:crypto';
import type { EventAction } from '../config/notifications.js';

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';
/** What Distribution reports as the media type of a blob (layer or config). */
export const BLOB_EVENT_MEDIA_TYPE = 'application/octet-stream';

export interface EventTarget {
  mediaType?: string;
  size?: number;
  digest?: string;
  /** Same as size (Distribution keeps it for older receivers). */
  length?: number;
  repository: string;
  fromRepository?: string;
  url?: string;
  tag?: string;
  /** Wharf: the namespace of `repository`. */
  namespace: string;
}

export interface RequestRecord {
  id: string;
  addr?: string;
  host?: string;
  method: string;
  useragent: string;
}

export interface ActorRecord {
  name?: string;
}

export interface SourceRecord {
  addr?: string;
  instanceID?: string;
}

export interface RegistryEvent {
  id: string;
  timestamp: string;
  action: EventAction;
  target: EventTarget;
  request: RequestRecord;
  actor: ActorRecord;
  source: SourceRecord;
}

export interface Envelope {
  events: RegistryEvent[];
}

export function newEvent(
  action: EventAction,
  target: EventTarget,
  request: RequestRecord,
  actor: ActorRecord,
  source: SourceRecord,
): RegistryEvent {
  return { id: randomUUID(), timestamp: new Date().toISOString(), action, target, request, actor, source };
}
