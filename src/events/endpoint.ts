// One webhook endpoint: its filters, a bounded queue, and one delivery loop
// that posts the events in order, one envelope each, retrying a failed
// delivery with exponential backoff. Publishing never waits: a full queue
// drops the new event (counted and logged), so a slow or dead receiver can
// never slow a push.
import type { EndpointConfig, EventAction } from '../config/notifications.js';
import type { Logger } from '../log/logger.js';
import { EVENTS_MEDIA_TYPE, type RegistryEvent } from './event.js';

/** What the metrics count about deliveries. */
export interface EventsObserver {
  delivered(endpoint: string): void;
  /** An attempt failed and will be retried. */
  retried(endpoint: string): void;
  /** Every attempt failed: the event is given up. */
  failed(endpoint: string): void;
  /** Never sent: the queue was full, or the process stopped first. */
  dropped(endpoint: string, reason: 'queue-full' | 'shutdown'): void;
}

/** Longest wait between two attempts, whatever the backoff. */
const MAX_BACKOFF_MS = 60_000;
/** Drops are logged at most this often per endpoint (they are all counted). */
const DROP_LOG_INTERVAL_MS = 10_000;

export class EventEndpoint {
  private readonly queue: RegistryEvent[] = [];
  private head = 0;
  private running = false;
  private closing = false;
  private stopped = false;
  private lastDropLog = 0;
  private droppedSinceLog = 0;
  /** Resolves the current backoff wait early (close). */
  private wake: (() => void) | undefined;
  /** Aborts the delivery attempt in flight (close). */
  private attempt: AbortController | undefined;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: (() => void) | undefined;

  constructor(
    readonly config: EndpointConfig,
    private readonly log: Logger,
    private readonly observer?: EventsObserver,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** Events not delivered yet: the queue and the one being delivered. */
  get length(): number {
    return this.queue.length - this.head;
  }

  wantsAction(action: EventAction): boolean {
    return this.config.actions.includes(action);
  }

  /** Does this endpoint take the event (action and media type filters)? */
  accepts(e: RegistryEvent): boolean {
    if (!this.config.actions.includes(e.action)) return false;
    const mt = e.target.mediaType;
    if (mt === undefined) return true; // deletes name no media type: never filtered by it
    if (this.config.ignoredMediaTypes.includes(mt)) return false;
    return this.config.mediaTypes.length === 0 || this.config.mediaTypes.includes(mt);
  }

  /** Queue an event (never waits). */
  publish(e: RegistryEvent): void {
    if (this.closing) {
      this.observer?.dropped(this.name, 'shutdown');
      return;
    }
    // The event being delivered does not take a place in the queue.
    if (this.length - (this.running ? 1 : 0) >= this.config.queueSize) {
      this.observer?.dropped(this.name, 'queue-full');
      this.droppedSinceLog++;
      const now = Date.now();
      if (now - this.lastDropLog >= DROP_LOG_INTERVAL_MS) {
        this.log.warn('event dropped: the endpoint queue is full', {
          endpoint: this.name,
          queueSize: this.config.queueSize,
          dropped: this.droppedSinceLog,
          action: e.action,
          repository: e.target.repository,
        });
        this.lastDropLog = now;
        this.droppedSinceLog = 0;
      }
      return;
    }
    this.queue.push(e);
    if (!this.running) this.start();
  }

  private start(): void {
    this.running = true;
    this.idle = new Promise<void>((resolve) => (this.markIdle = resolve));
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.length > 0 && !this.stopped) {
        const e = this.queue[this.head]!;
        await this.deliver(e);
        this.queue[this.head] = undefined as unknown as RegistryEvent;
        this.head++;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
      }
    } finally {
      this.running = false;
      this.markIdle?.();
    }
  }

  private async deliver(e: RegistryEvent): Promise<void> {
    const body = JSON.stringify({ events: [e] });
    for (let attempt = 0; ; attempt++) {
      const problem = await this.post(body);
      if (problem === null) {
        this.observer?.delivered(this.name);
        return;
      }
      if (this.stopped) {
        this.observer?.dropped(this.name, 'shutdown');
        return;
      }
      if (attempt >= this.config.retries) {
        this.observer?.failed(this.name);
        this.log.warn('event not delivered; given up', {
          endpoint: this.name,
          attempts: attempt + 1,
          problem,
          event: e.id,
          action: e.action,
          repository: e.target.repository,
          digest: e.target.digest,
        });
        return;
      }
      this.observer?.retried(this.name);
      this.log.debug('event delivery failed; retrying', { endpoint: this.name, attempt: attempt + 1, problem });
      await this.sleep(Math.min(MAX_BACKOFF_MS, this.config.backoffMs * 2 ** attempt));
      if (this.stopped) {
        this.observer?.dropped(this.name, 'shutdown');
        return;
      }
    }
  }

  /** One POST; null when the receiver accepted it (2xx or 3xx, as Distribution counts it), else why not. */
  private async post(body: string): Promise<string | null> {
    const headers = new Headers();
    for (const [k, values] of Object.entries(this.config.headers)) for (const v of values) headers.append(k, v);
    headers.set('Content-Type', EVENTS_MEDIA_TYPE);
    const attempt = new AbortController();
    this.attempt = attempt;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort();
    }, this.config.timeoutMs);
    try {
      const res = await fetch(this.config.url, { method: 'POST', headers, body, redirect: 'manual', signal: attempt.signal });
      await res.body?.cancel().catch(() => undefined);
      return res.status >= 200 && res.status < 400 ? null : `answered ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (timedOut) return `no answer within ${this.config.timeoutMs} ms`;
      if (this.stopped) return 'stopped (the process is exiting)';
      return e.cause?.code ?? e.cause?.message ?? e.message;
    } finally {
      clearTimeout(timer);
      this.attempt = undefined;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * Take no more events; deliver what is queued for at most `graceMs`, then
   * count the rest as dropped. Resolves when the loop has stopped.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([this.idle, timeout]);
    clearTimeout(timer);
    this.stopped = true;
    this.wake?.();
    this.attempt?.abort();
    const left = this.length - (this.running ? 1 : 0);
    for (let i = 0; i < left; i++) this.observer?.dropped(this.name, 'shutdown');
    if (left > 0) this.log.warn('events not delivered before the exit', { endpoint: this.name, dropped: left });
    this.queue.length = this.head + (this.running ? 1 : 0);
    await this.idle;
  }
}
