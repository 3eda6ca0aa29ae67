// Prometheus metrics (prom-client, text format at /metrics). Every label has
// a bounded set of values: methods, route kinds, status classes, configured
// namespaces (any other namespace counts as "other"), drivers, operations,
// endpoint names. No repository, digest or user labels.
//
// This object implements the observer interfaces of the layers below (the
// storage decorator, the retry hook, the mirror, the auth core, the event
// endpoints, the prune schedule) and is fed each request by the dispatcher.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CheapCounter, CheapHistogram } from './cheap.js';
import type { AuthObserver } from '../http/auth/index.js';
import { buildsetMetrics, type BuildsetsMetricsOptions, type BuildsetsObserver } from './buildsets.js';
import type { EventsObserver } from '../events/endpoint.js';
import type { MirrorFill, MirrorObserver, UpstreamKind } from '../registry/mirror/observer.js';
import type { PruneReport } from '../registry/prune/index.js';
import { totals } from '../registry/prune/index.js';
import { operationOf, type StorageObserver } from '../storage/instrumented.js';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** What the dispatcher tells about each finished request. */
export interface RequestObservation {
  method: string;
  /** Route kind: base, catalog, tags, manifest, blob, upload, referrers, token, health, metrics, unknown. */
  route: string;
  status: number;
  namespace: string;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}

/** A cache of label children: prom-client hashes label objects on every call; this is one Map lookup. */
function children<T>(make: (...values: string[]) => T): (...values: string[]) => T {
  const cache = new Map<string, T>();
  return (...values) => {
    const key = values.join('\u0000');
    let c = cache.get(key);
    if (c === undefined) {
      c = make(...values);
      cache.set(key, c);
    }
    return c;
  };
}

export class Metrics {
  readonly registry = new Registry();
  private readonly namespaces: Set<string>;

  // The per-request series are cheap ones (cheap.ts): updated on every request and store call.
  private readonly requests: CheapCounter;
  private readonly duration: CheapHistogram;
  private readonly received: CheapCounter;
  private readonly sent: CheapCounter;
  private inFlight = 0;
  private uploadsInProgress = 0;
  private readonly uploadsStarted: Counter;
  private readonly uploadsCompleted: Counter;
  private readonly mounts: Counter;
  private readonly storageCalls: CheapCounter;
  private readonly storageSeconds: CheapHistogram;
  private readonly storageRetries;
  private readonly upstream;
  private readonly cacheReads;
  private readonly fills;
  private readonly fillBytes;
  private readonly pruneRuns;
  private readonly pruneSeconds: Histogram;
  private readonly pruneObjects: Counter;
  private readonly pruneBytes: Counter;
  private readonly pruneLastSuccess: Gauge;
  private readonly failedLogins: Counter;
  private readonly throttled: Counter;
  private readonly eventsDelivered;
  private readonly eventsRetried;
  private readonly eventsFailed;
  private readonly eventsDropped;
  readonly readOnly: Gauge;
  readonly buildsets: BuildsetsObserver;

  constructor(options: {
    /** Configured namespaces: the only values of the namespace label (besides "other"). */
    namespaces: readonly string[];
    version: string;
    /** Lines the logger dropped so far. */
    logDropped?: () => number;
    /** Events waiting per endpoint. */
    eventQueues?: () => { endpoint: string; length: number }[];
    /** Buildset namespaces' limits and count (when registry.buildsets is set). */
    buildsets?: BuildsetsMetricsOptions;
  }) {
    const registers = [this.registry];
    this.namespaces = new Set(options.namespaces);
    collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'wharf_build_info',
      help: 'Wharf version (value 1)',
      labelNames: ['version'],
      registers,
    }).set({ version: options.version }, 1);

    this.requests = new CheapCounter(
      'wharf_http_requests_total',
      'HTTP requests answered, by method, route kind, status class and namespace',
      ['method', 'route', 'status', 'namespace'],
      this.registry,
    );
    this.duration = new CheapHistogram(
      'wharf_http_request_duration_seconds',
      'Time from the request headers to the end of the response, by method and route kind',
      ['method', 'route'],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      this.registry,
    );
    this.received = new CheapCounter(
      'wharf_http_received_bytes_total',
      'Bytes the connections carried from clients for requests (headers and bodies), by route kind',
      ['route'],
      this.registry,
    );
    this.sent = new CheapCounter(
      'wharf_http_sent_bytes_total',
      'Bytes the connections carried to clients for requests (headers and bodies), by route kind',
      ['route'],
      this.registry,
    );
    const self = this;
    new Gauge({
      name: 'wharf_http_requests_in_flight',
      help: 'Requests being served now',
      registers,
      collect() {
        this.set(self.inFlight);
      },
    });
    new Gauge({
      name: 'wharf_uploads_in_progress',
      help: 'Upload requests (POST, PATCH, PUT of blob data) being received now',
      registers,
      collect() {
        this.set(self.uploadsInProgress);
      },
    });
    this.uploadsStarted = new Counter({
      name: 'wharf_uploads_started_total',
      help: 'Blob uploads started (POST answered 202, or a monolithic POST)',
      registers,
    });
    this.uploadsCompleted = new Counter({
      name: 'wharf_uploads_completed_total',
      help: 'Blob uploads finished and published (201)',
      registers,
    });
    this.mounts = new Counter({ name: 'wharf_blob_mounts_total', help: 'Blobs mounted from another repository (201)', registers });

    this.storageCalls = new CheapCounter(
      'wharf_storage_operations_total',
      'Storage driver calls by driver, operation and outcome (ok, not_found, invalid_range, error)',
      ['driver', 'operation', 'outcome'],
      this.registry,
    );
    this.storageSeconds = new CheapHistogram(
      'wharf_storage_operation_duration_seconds',
      'Storage driver call latency (read: until the stream opens), by driver and operation',
      ['driver', 'operation'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      this.registry,
    );
    const storageRetries = new Counter({
      name: 'wharf_storage_retries_total',
      help: 'Backend calls retried after a transient failure, by driver and operation',
      labelNames: ['driver', 'operation'],
      registers,
    });
    this.storageRetries = children((d, o) => storageRetries.labels(d!, o!));

    const upstream = new Counter({
      name: 'wharf_mirror_upstream_requests_total',
      help: 'Exchanges of mirror namespaces with their upstream, by namespace, kind, outcome and failure',
      labelNames: ['namespace', 'kind', 'outcome', 'failure'],
      registers,
    });
    this.upstream = children((n, k, o, f) => upstream.labels(n!, k!, o!, f!));
    const cacheReads = new Counter({
      name: 'wharf_mirror_cache_requests_total',
      help: 'Mirror reads answered from the namespace (hit) or needing the upstream (miss)',
      labelNames: ['namespace', 'kind', 'result'],
      registers,
    });
    this.cacheReads = children((n, k, r) => cacheReads.labels(n!, k!, r!));
    const fills = new Counter({
      name: 'wharf_mirror_fills_total',
      help: 'Manifests and blobs fetched from upstream, verified and stored',
      labelNames: ['namespace', 'kind'],
      registers,
    });
    this.fills = children((n, k) => fills.labels(n!, k!));
    const fillBytes = new Counter({
      name: 'wharf_mirror_fill_bytes_total',
      help: 'Bytes fetched from upstream and stored',
      labelNames: ['namespace'],
      registers,
    });
    this.fillBytes = children((n) => fillBytes.labels(n!));

    const pruneRuns = new Counter({
      name: 'wharf_prune_runs_total',
      help: 'Scheduled prune runs, by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.pruneRuns = children((o) => pruneRuns.labels(o!));
    this.pruneSeconds = new Histogram({
      name: 'wharf_prune_duration_seconds',
      help: 'Duration of scheduled prune runs',
      buckets: [1, 5, 15, 60, 300, 900, 3600, 14400],
      registers,
    });
    this.pruneObjects = new Counter({
      name: 'wharf_prune_reclaimed_objects_total',
      help: 'Objects removed by scheduled prune runs',
      registers,
    });
    this.pruneBytes = new Counter({ name: 'wharf_prune_reclaimed_bytes_total', help: 'Bytes removed by scheduled prune runs', registers });
    this.pruneLastSuccess = new Gauge({
      name: 'wharf_prune_last_success_timestamp_seconds',
      help: 'When the last scheduled prune run finished without failing (Unix time)',
      registers,
    });

    this.failedLogins = new Counter({
      name: 'wharf_auth_failed_logins_total',
      help: 'Logins refused: unknown user or wrong password',
      registers,
    });
    this.throttled = new Counter({
      name: 'wharf_auth_throttled_requests_total',
      help: 'Requests refused with 429 after too many failed logins from a user and address',
      registers,
    });

    const delivered = new Counter({
      name: 'wharf_events_delivered_total',
      help: 'Events a webhook endpoint accepted',
      labelNames: ['endpoint'],
      registers,
    });
    this.eventsDelivered = children((e) => delivered.labels(e!));
    const retried = new Counter({
      name: 'wharf_events_retries_total',
      help: 'Event deliveries retried after a failed attempt',
      labelNames: ['endpoint'],
      registers,
    });
    this.eventsRetried = children((e) => retried.labels(e!));
    const failed = new Counter({
      name: 'wharf_events_failed_total',
      help: 'Events given up after every attempt failed',
      labelNames: ['endpoint'],
      registers,
    });
    this.eventsFailed = children((e) => failed.labels(e!));
    const dropped = new Counter({
      name: 'wharf_events_dropped_total',
      help: 'Events never sent: the endpoint queue was full, or the process stopped first',
      labelNames: ['endpoint', 'reason'],
      registers,
    });
    this.eventsDropped = children((e, r) => dropped.labels(e!, r!));
    if (options.eventQueues) {
      const queues = options.eventQueues;
      new Gauge({
        name: 'wharf_events_queue_length',
        help: 'Events waiting for delivery, by endpoint',
        labelNames: ['endpoint'],
        registers,
        collect() {
          this.reset();
          for (const q of queues()) this.set({ endpoint: q.endpoint }, q.length);
        },
      });
    }
    if (options.logDropped) {
      const logDropped = options.logDropped;
      new Counter({
        name: 'wharf_log_dropped_lines_total',
        help: 'Log lines dropped because the log reader did not keep up',
        registers,
        collect() {
          this.reset();
          this.inc(logDropped());
        },
      });
    }
    this.readOnly = new Gauge({ name: 'wharf_read_only', help: '1 while the registry refuses writes (registry.read-only)', registers });
    this.buildsets = buildsetMetrics(this.registry, options.buildsets);
  }

  /** The namespace label: configured namespaces by name, any other as "other" (dynamic namespaces are unbounded). */
  namespaceLabel(ns: string): string {
    return this.namespaces.has(ns) ? ns : 'other';
  }

  // ---------------------------------------------------------------- HTTP

  requestStarted(): void {
    this.inFlight++;
  }

  request(o: RequestObservation): void {
    this.inFlight--;
    const method = KNOWN_METHODS.has(o.method) ? o.method : 'other';
    const status = STATUS_CLASSES[Math.floor(o.status / 100) - 1] ?? 'other';
    this.requests.cell(method, o.route, status, this.namespaceLabel(o.namespace)).value++;
    this.duration.observe(this.duration.cell(method, o.route), o.seconds);
    if (o.bytesIn > 0) this.received.cell(o.route).value += o.bytesIn;
    if (o.bytesOut > 0) this.sent.cell(o.route).value += o.bytesOut;
  }

  uploadBody(delta: 1 | -1): void {
    this.uploadsInProgress += delta;
  }

  uploadStarted(): void {
    this.uploadsStarted.inc();
  }

  uploadCompleted(): void {
    this.uploadsCompleted.inc();
  }

  blobMounted(): void {
    this.mounts.inc();
  }

  // ---------------------------------------------------------------- observers of the layers below

  /** The storage decorator's observer (storage/instrumented.ts). */
  readonly storage: StorageObserver = {
    call: (driver, operation, seconds, outcome) => {
      this.storageCalls.cell(driver, operation, outcome).value++;
      this.storageSeconds.observe(this.storageSeconds.cell(driver, operation), seconds);
    },
  };

  /** The retry hook (storage/retry.ts) of a driver. */
  retryHook(driver: string): (what: string) => void {
    return (what) => this.storageRetries(driver, operationOf(what)).inc();
  }

  readonly mirror: MirrorObserver = {
    upstream: (ns: string, kind: UpstreamKind, outcome: 'ok' | 'not_found' | 'error', failure?: string) => {
      this.upstream(this.namespaceLabel(ns), kind, outcome, failure ?? '').inc();
    },
    cache: (ns, kind, hit) => {
      this.cacheReads(this.namespaceLabel(ns), kind, hit ? 'hit' : 'miss').inc();
    },
    filled: (ns: string, fill: MirrorFill) => {
      this.fills(this.namespaceLabel(ns), fill.kind).inc();
      this.fillBytes(this.namespaceLabel(ns)).inc(fill.size);
    },
  };

  readonly auth: AuthObserver = {
    failedLogin: () => this.failedLogins.inc(),
    throttled: () => this.throttled.inc(),
  };

  readonly events: EventsObserver = {
    delivered: (endpoint) => this.eventsDelivered(endpoint).inc(),
    retried: (endpoint) => this.eventsRetried(endpoint).inc(),
    failed: (endpoint) => this.eventsFailed(endpoint).inc(),
    dropped: (endpoint, reason) => this.eventsDropped(endpoint, reason).inc(),
  };

  pruneFinished(r: PruneReport): void {
    const t = totals(r);
    this.pruneRuns('ok').inc();
    this.pruneSeconds.observe(r.durationMs / 1000);
    this.pruneObjects.inc(t.removed.objects);
    this.pruneBytes.inc(t.removed.bytes);
    this.pruneLastSuccess.set(Date.now() / 1000);
  }

  pruneFailed(ms: number): void {
    this.pruneRuns('failed').inc();
    this.pruneSeconds.observe(ms / 1000);
  }

  // ---------------------------------------------------------------- exposition

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
