import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** What a process holds open, from /proc: the e2e socket test and the bench's soak look the same way. */
export interface ProcessSample {
  /** Every open file descriptor. */
  readonly fds: number;
  /** Descriptors that are sockets of any kind (TCP, unix, …). */
  readonly sockets: number;
  /** Of those, TCP sockets (v4 and v6), any state. */
  readonly tcp: number;
  /** TCP sockets in CLOSE-WAIT: the peer closed, we never did. What a leak of pooled connections looks like. */
  readonly closeWait: number;
  /** Resident set size, in bytes. */
  readonly rss: number;
}

/** The TCP state column of /proc/net/tcp for CLOSE-WAIT (include/net/tcp_states.h). */
const TCP_CLOSE_WAIT = "08";

export function processSample(pid: number): ProcessSample {
  const inodes = new Set<string>();
  let fds = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      fds++;
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  let tcp = 0;
  let closeWait = 0;
  for (const table of ["tcp", "tcp6"]) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9]!)) continue;
      tcp++;
      if (cols[3] === TCP_CLOSE_WAIT) closeWait++;
    }
  }
  const rssKb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return { fds, sockets: inodes.size, tcp, closeWait, rss: Number(rssKb ?? 0) * 1024 };
}
