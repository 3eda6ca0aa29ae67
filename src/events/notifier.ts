// The configured webhook endpoints together: the HTTP layer publishes each
// event once, every endpoint that wants it queues it. Replaced as a whole on
// SIGHUP (the old endpoints deliver what they have queued, then stop).
import type { EventAction, NotificationsConfig } from '../config/notifications.js';
import type { Logger } from '../log/logger.js';
import { EventEndpoint, type EventsObserver } from './endpoint.js';
import type { RegistryEvent, SourceRecord } from './event.js';

export class Notifier {
  readonly endpoints: EventEndpoint[];
  private readonly actions: Set<EventAction>;

  constructor(
    config: NotificationsConfig,
    log: Logger,
    observer?: EventsObserver,
    /** This process, as events name it (host:port and an id that changes at each start). */
    readonly source: SourceRecord = {},
  ) {
    this.endpoints = config.endpoints.map((c) => new EventEndpoint(c, log, observer));
    this.actions = new Set(config.endpoints.flatMap((c) => c.actions));
  }

  /** Does any endpoint take this action? (Callers skip building events nobody wants.) */
  wants(action: EventAction): boolean {
    return this.actions.has(action);
  }

  publish(e: RegistryEvent): void {
    for (const ep of this.endpoints) if (ep.accepts(e)) ep.publish(e);
  }

  /** Deliver what is queued for at most `graceMs`, then stop. */
  async close(graceMs: number): Promise<void> {
    await Promise.all(this.endpoints.map((ep) => ep.close(graceMs)));
  }
}
