/**
 * Rate-limits the log lines of refused requests per source IP.
 *
 * Attacker: any process in any pod of the node (no permission needed). Every refused request used
 * to log one line, so a fuzzing pod wrote 19,000 lines in minutes: it buried other pods'
 * refusals, filled the node's disk and log pipeline, and cost the proxy CPU on every request.
 * Each source IP gets `linesPerWindow` lines per window; further lines are counted, and one summary
 * line per IP says how many were suppressed once the window has rolled. The metrics still count
 * every refusal. The map is bounded: an attacker cycling source IPs evicts the oldest entries
 * (their suppressed counts are reported, not lost) instead of growing the proxy's memory.
 */
export interface LogLimits {
  linesPerWindow: number;
  windowMs: number;
  /** Source IPs remembered at once; the oldest is evicted beyond this. */
  maxIps: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = { linesPerWindow: 5, windowMs: 10_000, maxIps: 4096 };

export interface Suppressed {
  ip: string;
  suppressed: number;
}

interface Window {
  startedMs: number;
  lines: number;
  suppressed: number;
}

export class RefusalLogLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limits: LogLimits = DEFAULT_LOG_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  get tracked(): number {
    return this.windows.size;
  }

  /**
   * May a line about this IP's refusal be written? `summaries` are lines due now: this IP's
   * previous window (when it rolled) and an evicted IP's count.
   */
  admit(ip: string): { log: boolean; summaries: Suppressed[] } {
    const now = this.now();
    const summaries: Suppressed[] = [];
    let w = this.windows.get(ip);
    if (w && now - w.startedMs >= this.limits.windowMs) {
      if (w.suppressed > 0) summaries.push({ ip, suppressed: w.suppressed });
      this.windows.delete(ip);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= this.limits.maxIps) {
        // Map keeps insertion order: the first key is the oldest window.
        const [oldestIp, oldest] = this.windows.entries().next().value as [string, Window];
        this.windows.delete(oldestIp);
        if (oldest.suppressed > 0) summaries.push({ ip: oldestIp, suppressed: oldest.suppressed });
      }
      w = { startedMs: now, lines: 0, suppressed: 0 };
      this.windows.set(ip, w);
    }
    if (w.lines < this.limits.linesPerWindow) {
      w.lines++;
      return { log: true, summaries };
    }
    w.suppressed++;
    return { log: false, summaries };
  }

  /** Ends the windows that have rolled; returns their suppressed counts (one summary line each). */
  sweep(): Suppressed[] {
    const now = this.now();
    const out: Suppressed[] = [];
    for (const [ip, w] of this.windows) {
      if (now - w.startedMs < this.limits.windowMs) continue;
      if (w.suppressed > 0) out.push({ ip, suppressed: w.suppressed });
      this.windows.delete(ip);
    }
    return out;
  }
}
