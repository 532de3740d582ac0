/** Time as a dependency, so the credential cache's refresh timing can be tested without waiting. */
export interface Clock {
  now(): number;
  /** Runs fn after ms; returns a cancel function. Timers must not keep the process alive. */
  schedule(ms: number, fn: () => void): () => void;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
};
