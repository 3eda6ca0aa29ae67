// Group commit of directory fsyncs. Concurrent publishes into one directory
// (16 clients pushing small blobs into <ns>/blobs/sha256) each need an fsync
// of that directory that *starts after* their rename: an fsync that was
// already running when a rename happened may have missed it. So a caller
// that finds a sync running waits for the next one, which starts when the
// running one ends and serves everyone who queued behind it: N concurrent
// publishes cost at most two syncs in flight per directory, not N.
//
// A sync's error goes to exactly the callers that waited for that sync.

interface Slot {
  /** The sync running now. */
  running: Promise<void>;
  /** The sync that starts when `running` ends, shared by everyone who asked meanwhile. */
  queued: Promise<void> | null;
}

const ignore = (): void => undefined;

export class GroupSync {
  private readonly slots = new Map<string, Slot>();
  /** Syncs started (for tests and the profile: far fewer than calls under concurrency). */
  started = 0;

  constructor(private readonly syncNow: (key: string) => Promise<void>) {}

  /** Resolves once a sync of `key` that started after this call has finished. */
  sync(key: string): Promise<void> {
    const slot = this.slots.get(key);
    if (!slot) return this.start(key, { running: Promise.resolve(), queued: null });
    slot.queued ??= slot.running.then(ignore, ignore).then(() => this.start(key, slot));
    return slot.queued;
  }

  private start(key: string, slot: Slot): Promise<void> {
    this.started++;
    const run = this.syncNow(key);
    slot.running = run;
    slot.queued = null; // the queued sync is this one: later callers queue anew
    this.slots.set(key, slot);
    void run.then(ignore, ignore).then(() => {
      if (slot.running === run && slot.queued === null) this.slots.delete(key);
    });
    return run;
  }
}
