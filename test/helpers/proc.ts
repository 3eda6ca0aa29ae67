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

/**
 * The socket inode ("socket:[N]" in fdTargets) of the end of a loopback TCP
 * connection that `pid` holds, bound to `localPort` and connected to
 * `remotePort` (from /proc/<pid>/net/tcp). Undefined when there is none.
 */
export function tcpSocket(pid: number, localPort: number, remotePort: number): string | undefined {
  const port = (address: string) => Number.parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    if (port(f[1]!) === localPort && port(f[2]!) === remotePort) return `socket:[${f[9]}]`;
  }
  return undefined;
}
