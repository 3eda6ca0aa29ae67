// The structured logger: one JSON object per line on stderr, written by pino
// through an asynchronous destination (sonic-boom), so that a slow or stuck
// log reader never stalls the event loop. What it cannot write it buffers up
// to a bound and then drops (counted: wharf_log_dropped_lines_total).
import { pino, type Logger as Pino } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  enabled(level: Level): boolean;
  /** Change the level (SIGHUP reload). */
  setLevel(level: Level): void;
  /** Lines dropped because the reader did not keep up (buffer full) or the output failed. */
  dropped(): number;
  /** Write out what is buffered, waiting at most `ms`. */
  flush(ms?: number): Promise<void>;
}

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
  dest.on('drop', () => dropped++);
  // EPIPE and the like: the reader is gone; nothing more will be written, and the process goes on.
  dest.on('error', () => dropped++);
  const p: Pino = pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    enabled: (lvl) => p.isLevelEnabled(lvl),
    setLevel: (lvl) => {
      p.level = lvl;
    },
    dropped: () => dropped,
    flush: (ms = 1000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        try {
          dest.flush(() => {
            clearTimeout(timer);
            resolve();
          });
        } catch {
          clearTimeout(timer);
          resolve();
        }
      }),
  };
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
    enabled: (lvl) => ORDER[lvl] >= min,
    setLevel: (lvl) => {
      min = ORDER[lvl];
    },
    dropped: () => 0,
    flush: async () => undefined,
  };
}
