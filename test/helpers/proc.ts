// What a server process holds, read from /proc (Linux): open file
// descriptors and resident memory. Used by the fuzzer and the soak to find
// leaks in a `wharf serve` child process.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Where each open descriptor points ("socket:[123]", "/path/to/file", "pipe:[9]", ...). */
export function fdTargets(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      /* closed while listing */
    }
  }
  return out;
}

export interface FdSummary {
  total: number;
  sockets: number;
  /** Regular files under `dir` (e.g. the storage root). */
  under: string[];
}

export function fdSummary(pid: number, dir?: string): FdSummary {
  const t = fdTargets(pid);
  return {
    total: t.length,
    sockets: t.filter((x) => x.startsWith('socket:')).length,
    under: dir === undefined ? [] : t.filter((x) => x.startsWith(dir.endsWith('/') ? dir : `${dir}/`)),
  };
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
