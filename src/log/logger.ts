// The structured logger: one JSON object per line on stderr, written by pino
// through an asynchronous destination (sonic-boom), so that a slow or stuck
// log reader never stalls the event loop. What it cannot write it buffers up
// to a bound and then drops (counted: wharf_log_dropped_lines_total).
//
// Lines are handed to the destination in batches, at most BATCH_MS after the
// first of them or once BATCH_BYTES wait: each write is a trip through libuv's
// thread pool (whose queue the storage calls share) and a wake-up of the
// reader, and one write per access-log line was most of what logs and metrics
// cost on small requests.
import { writeSync } from 'node:fs';
import { pino, type Logger as Pino } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /**
   * A line whose fields are all strings, numbers, booleans or undefined (the
   * access log, one per request): the same format, made with one
   * JSON.stringify instead of pino's work per field.
   */
  flat(level: Level, msg: string, fields: Record<string, FlatValue>): void;
  enabled(level: Level): boolean;
  /** Change the level (SIGHUP reload). */
  setLevel(level: Level): void;
  /** Lines dropped because the reader did not keep up (buffer full) or the output failed. */
  dropped(): number;
  /** Write out what is buffered, waiting at most `ms`. */
  flush(ms?: number): Promise<void>;
}

export type FlatValue = string | number | boolean | undefined;

/** `{"level":…,"time":…,<fields>,"msg":…}`: the order pino writes them in. */
function flatLine(level: Level, msg: string, fields: Record<string, FlatValue>): string {
  const body = JSON.stringify(fields);
  return `{"level":"${level}"${isoTime()}${body.length > 2 ? `,${body.slice(1, -1)}` : ''},"msg":${JSON.stringify(msg)}}\n`;
}

/** How long a line may wait to be written with the next ones, and how much may wait. */
const BATCH_MS = 20;
const BATCH_BYTES = 16 * 1024;

/** Bytes held for a reader that does not keep up before lines are dropped. */
const MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * A logger on stderr (or file descriptor `fd`). With `write`, lines go to that
 * function synchronously instead (tests).
 */
export function createLogger(level: Level, write?: (line: string) => void, fd = 2): Logger {
  if (write) return lineLogger(level, write);
  let dropped = 0;
  const dest = pino.destination({ fd, sync: false, minLength: 0, maxLength: MAX_BUFFER_BYTES });
  // A batch is dropped whole: count its lines.
  dest.on('drop', (data: string) => {
    for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) dropped++;
  });
  // EPIPE and the like: the reader is gone; nothing more will be written, and the process goes on.
  dest.on('error', () => dropped++);
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const writePending = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending === '') return;
    const lines = pending;
    pending = '';
    dest.write(lines);
  };
  const batch = {
    write(line: string) {
      pending += line;
      if (pending.length >= BATCH_BYTES) writePending();
      else if (!timer) timer = setTimeout(writePending, BATCH_MS);
    },
  };
  // At exit there is no next turn: what the destination holds, then what waits here, is written synchronously
  // (handed to the destination, it would start an asynchronous write that exit does not wait for).
  atExit(() => {
    if (timer) clearTimeout(timer);
    const lines = pending;
    pending = '';
    try {
      dest.flushSync();
      if (lines !== '') writeSync(fd, lines);
    } catch {
      /* destroyed, not open, or a full pipe: lost, as without batching */
    }
  });
  const p: Pino = pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    batch,
  );
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    flat: (lvl, msg, fields) => {
      if (p.isLevelEnabled(lvl)) batch.write(flatLine(lvl, msg, fields));
    },
    enabled: (lvl) => p.isLevelEnabled(lvl),
    setLevel: (lvl) => {
      p.level = lvl;
    },
    dropped: () => dropped,
    flush: (ms = 1000) =>
      new Promise<void>((resolve) => {
        const deadline = setTimeout(resolve, ms);
        writePending();
        try {
          dest.flush(() => {
            clearTimeout(deadline);
            resolve();
          });
        } catch {
          clearTimeout(deadline);
          resolve();
        }
      }),
  };
}

let exitHooks: (() => void)[] | undefined;
function atExit(hook: () => void): void {
  if (!exitHooks) {
    const hooks: (() => void)[] = [];
    exitHooks = hooks;
    process.on('exit', () => {
      for (const h of hooks) h();
    });
  }
  exitHooks.push(hook);
}

/** pino's isoTime, formatted once per millisecond (a busy server logs several lines per millisecond). */
let isoMs = -1;
let isoField = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoField = `,"time":"${new Date(now).toISOString()}"`;
  }
  return isoField;
}

/** The same line format, written synchronously to a function. */
function lineLogger(level: Level, write: (line: string) => void): Logger {
  let min = ORDER[level];
  const log = (lvl: Level) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    write(`${JSON.stringify({ level: lvl, time: new Date().toISOString(), ...fields, msg })}\n`);
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    flat: (lvl, msg, fields) => {
      if (ORDER[lvl] >= min) write(flatLine(lvl, msg, fields));
    },
    enabled: (lvl) => ORDER[lvl] >= min,
    setLevel: (lvl) => {
      min = ORDER[lvl];
    },
    dropped: () => 0,
    flush: async () => undefined,
  };
}
