// `registry.notifications`: webhook endpoints that receive registry events in
// Distribution's envelope (src/events/).
//
//   notifications:
//     endpoints:
//       - name: ci                      # used in logs and metrics
//         url: https://ci.example.com/registry-events
//         headers: {Authorization: "Bearer %(CI_HOOK_TOKEN)"}   # a value or a list of values
//         timeout: 5                    # s per delivery attempt
//         retries: 5                    # further attempts after a failure
//         backoff: 1                    # s before the first retry, doubling (at most 60 s)
//         queue-size: 1000              # events waiting; beyond that new ones are dropped (counted)
//         actions: [push, mount, delete]   # default; add pull and mirror to get those too
//         media-types: []               # only events whose target has one of these (empty: any)
//         ignored-media-types: []       # never events whose target has one of these
//         disabled: false
import type { Reader } from './reader.js';

/** Event actions: Distribution's (push, mount, delete, pull) and `mirror`, a mirror namespace filling its cache. */
export type EventAction = 'push' | 'mount' | 'delete' | 'pull' | 'mirror';
export const EVENT_ACTIONS: readonly EventAction[] = ['push', 'mount', 'delete', 'pull', 'mirror'];
export const DEFAULT_EVENT_ACTIONS: readonly EventAction[] = ['push', 'mount', 'delete'];

export interface EndpointConfig {
  name: string;
  url: string;
  headers: Record<string, string[]>;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  queueSize: number;
  actions: EventAction[];
  mediaTypes: string[];
  ignoredMediaTypes: string[];
}

export interface NotificationsConfig {
  endpoints: EndpointConfig[];
}

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function readHeaders(r: Reader): Record<string, string[]> {
  const h = r.child('headers');
  const out: Record<string, string[]> = {};
  for (const name of h.keys()) {
    if (!TOKEN_RE.test(name)) h.fail(name, 'is not a valid HTTP header name');
    const values = h.stringOrList(name);
    for (const v of values) if (/[\r\n\0]/.test(v)) h.fail(name, 'a header value must not contain line breaks');
    out[name] = values;
  }
  return out;
}

function readEndpoint(r: Reader, i: number, names: Set<string>): EndpointConfig | null {
  r.only([
    'name',
    'url',
    'headers',
    'timeout',
    'retries',
    'backoff',
    'queue-size',
    'actions',
    'media-types',
    'ignored-media-types',
    'disabled',
  ]);
  const name = r.string('name', `endpoint-${i + 1}`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) r.fail('name', 'must be 1-64 letters, digits, ".", "_" or "-" (it becomes a metrics label)');
  if (names.has(name)) r.fail('name', `duplicate endpoint name "${name}"`);
  names.add(name);
  const url = r.string('url');
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    /* reported below */
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) r.fail('url', `must be an http(s) URL (got ${JSON.stringify(url)})`);
  const actions = r.stringList('actions');
  for (const a of actions) {
    if (!EVENT_ACTIONS.includes(a as EventAction)) r.fail('actions', `unknown action "${a}" (known: ${EVENT_ACTIONS.join(', ')})`);
  }
  const endpoint: EndpointConfig = {
    name,
    url: u.href,
    headers: readHeaders(r),
    timeoutMs: r.seconds('timeout', 5, 0.01, 600),
    retries: r.integer('retries', 5, 0, 100),
    backoffMs: r.seconds('backoff', 1, 0, 3600),
    queueSize: r.integer('queue-size', 1000, 1, 1_000_000),
    actions: actions.length > 0 ? [...new Set(actions as EventAction[])] : [...DEFAULT_EVENT_ACTIONS],
    mediaTypes: r.stringList('media-types'),
    ignoredMediaTypes: r.stringList('ignored-media-types'),
  };
  return r.boolean('disabled', false) ? null : endpoint;
}

export function readNotifications(r: Reader): NotificationsConfig {
  r.only(['endpoints']);
  const names = new Set<string>();
  const endpoints = r
    .list('endpoints')
    .map((e, i) => readEndpoint(e, i, names))
    .filter((e): e is EndpointConfig => e !== null);
  return { endpoints };
}
