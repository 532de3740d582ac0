/**
 * What both demo entry points (main.ts, node-main.ts) do around their story: time-stamped progress
 * lines, and one way out — the world is stopped and its clean-up reported on success, on failure and
 * on Ctrl-C/SIGTERM, then the process exits with the story's code (130 on a signal).
 */
const started = Date.now();

export const secs = (): string => ((Date.now() - started) / 1000).toFixed(1);

export const say = (line: string): void => {
  process.stdout.write(`[${secs().padStart(5)} s] ${line}\n`);
};

/** Stops what the story started; resolves with what it cleaned up (for the last line), or undefined when nothing was started. */
export type Cleanup = () => Promise<string | undefined>;

export function runDemo(story: () => Promise<number>, cleanup: Cleanup): void {
  let finishing: Promise<never> | undefined;
  const finish = (code: number): Promise<never> =>
    (finishing ??= (async () => {
      const t = Date.now();
      const what = await cleanup();
      if (what) say(`cleaned up (${what}) in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      process.exit(code);
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      // test/peers' own handler raises the signal once more after stopping its peers: say it once.
      if (!finishing) say(`${sig}: stopping`);
      void finish(130);
    });
  }
  story().then(
    (code) => finish(code),
    (err: unknown) => {
      say(`demo failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      return finish(1);
    },
  );
}
