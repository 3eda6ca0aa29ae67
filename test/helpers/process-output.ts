// Where a server started by the test helpers writes its stdout and stderr.
//
// 'memory' (the default): this process reads both pipes into one string, and
// output() returns all of it — tests assert on it. 'file': both go straight
// into a file, which this process does not read while the server runs, so a
// benchmark's load generator does no work per log line (in a deployment
// another process reads the logs too); output() then reads the file on demand,
// its head and tail when it is large.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export type OutputTo = 'memory' | 'file';

export interface ProcessOutput {
  /** For spawn(): stdin ignored, stdout and stderr as chosen. */
  stdio: StdioOptions;
  /** Call once, right after spawn(). */
  attach(child: ChildProcess): void;
  /** What the process wrote so far (stdout+stderr). */
  output(): string;
}

/** In 'file' mode, output() returns the whole file up to this size, else its first and last bytes. */
const WHOLE_FILE_BYTES = 1024 * 1024;
const HEAD_BYTES = 16 * 1024;
const TAIL_BYTES = 64 * 1024;

/** `file`: where 'file' mode writes (created or truncated; the caller removes it). */
export function processOutput(to: OutputTo, file: string): ProcessOutput {
  if (to === 'memory') {
    let out = '';
    return {
      stdio: ['ignore', 'pipe', 'pipe'],
      attach(child) {
        child.stdout!.on('data', (d) => (out += d));
        child.stderr!.on('data', (d) => (out += d));
      },
      output: () => out,
    };
  }
  // One open file description for both: stdout and stderr share its offset and never overwrite each other.
  const fd = openSync(file, 'w');
  return {
    stdio: ['ignore', fd, fd],
    // The child has its own copy of the descriptor.
    attach: () => closeSync(fd),
    output: () => readHeadAndTail(file),
  };
}

function readHeadAndTail(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return `(output file ${file} unreadable: ${(err as Error).message})`;
  }
  try {
    const size = fstatSync(fd).size;
    const read = (position: number, length: number) => {
      const buf = Buffer.alloc(length);
      return buf.toString('utf8', 0, readSync(fd, buf, 0, length, position));
    };
    if (size <= WHOLE_FILE_BYTES) return read(0, size);
    const skipped = size - HEAD_BYTES - TAIL_BYTES;
    return `${read(0, HEAD_BYTES)}\n… (${skipped} bytes of ${file} not shown) …\n${read(size - TAIL_BYTES, TAIL_BYTES)}`;
  } finally {
    closeSync(fd);
  }
}
