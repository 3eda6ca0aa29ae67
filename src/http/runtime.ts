// What the listeners share while the process runs: the configuration and the
// parts SIGHUP may replace (users and access rules, webhooks, read-only
// mode), the metrics, the health state, how client addresses are found, and
// the count of requests in flight that a graceful stop waits for.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/config.js';
import { Notifier } from '../events/notifier.js';
import type { SourceRecord } from '../events/event.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StorageDriver } from '../storage/driver.js';
import { createAuth, type Auth } from './auth/index.js';
import { ClientAddresses } from './client-address.js';
import { Health } from './health.js';
import { BuildsetDirectory } from '../registry/buildsets/directory.js';
import { BuildsetStore } from '../registry/buildsets/store.js';

/** The parts of the configuration a SIGHUP replaces together. */
export interface Reloadable {
  config: Config;
  auth: Auth;
  notifier: Notifier;
}

export class Runtime {
  config: Config;
  auth: Auth;
  notifier: Notifier;
  readonly health: Health;
  readonly clients: ClientAddresses;
  /** Where the admin endpoints are served: here unless `registry.admin` is set. */
  readonly adminOnMain: boolean;
  /** Buildset namespaces (src/registry/buildsets/): records in the store, a short cache of live ones. */
  readonly buildsets: BuildsetDirectory;
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  private constructor(
    parts: Reloadable,
    readonly driver: StorageDriver,
    readonly log: Logger,
    readonly metrics: Metrics | undefined,
    buildsets: BuildsetDirectory,
  ) {
    this.buildsets = buildsets;
    this.config = parts.config;
    this.auth = parts.auth;
    this.notifier = parts.notifier;
    this.health = new Health(driver, `${parts.config.namespaces.default}/`, parts.config.ops.readinessTimeoutMs);
    this.clients = new ClientAddresses(parts.config.ops.trustedProxies);
    this.adminOnMain = parts.config.ops.admin === undefined;
    metrics?.readOnly.set(parts.config.ops.readOnly ? 1 : 0);
  }

  /** Build everything a configuration needs (users and keys are checked: a bad entry rejects). */
  static async create(config: Config, driver: StorageDriver, log: Logger, metrics?: Metrics): Promise<Runtime> {
    const buildsets = new BuildsetDirectory(new BuildsetStore(driver));
    return new Runtime(await Runtime.reloadable(config, log, metrics, buildsets), driver, log, metrics, buildsets);
  }

  /** The SIGHUP-replaceable parts for `config` (rejects when users or keys are invalid). */
  static async reloadable(config: Config, log: Logger, metrics: Metrics | undefined, buildsets?: BuildsetDirectory): Promise<Reloadable> {
    const auth = await createAuth(config, log, metrics?.auth, buildsets);
    const notifier = new Notifier(config.notifications, log, metrics?.events, SOURCE);
    return { config, auth, notifier };
  }

  /** Name this process in events by the port it listens on (known once listening). */
  static listeningOn(port: number): void {
    SOURCE.addr = `${hostname()}:${port}`;
  }

  /** SIGHUP: switch to new parts; the old notifier delivers what it has queued, then stops. */
  replace(next: Reloadable): void {
    const old = this.notifier;
    this.config = next.config;
    this.auth = next.auth;
    this.notifier = next.notifier;
    this.metrics?.readOnly.set(next.config.ops.readOnly ? 1 : 0);
    void old.close(next.config.ops.shutdownTimeoutMs + 60_000);
  }

  // -------------------------------------------------------------- requests in flight

  requestStarted(): void {
    this.active++;
  }

  requestEnded(): void {
    this.active--;
    if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  get inFlight(): number {
    return this.active;
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

/** This process in events: host:port, and an id that changes at each start (as Distribution's does). */
const SOURCE: SourceRecord = { addr: hostname(), instanceID: randomUUID() };
