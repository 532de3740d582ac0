/**
 * Counts the AWS commands a client sends, by name (ListRoles, CreateRole, …), with an SDK v3
 * middleware. Reconcile logs the counts of each run; the tests and the benchmark use them to
 * prove that a run with nothing to change makes zero writes.
 */
interface MiddlewareClient {
  middlewareStack: {
    add(middleware: unknown, options: { step: 'initialize'; name: string; override?: boolean }): void;
  };
}

export interface CallCounts {
  /** Commands by name without the `Command` suffix. */
  byName(): Record<string, number>;
  total(): number;
  /** Commands that change something: everything except Get*, List*, Head*, Describe*. */
  writes(): number;
  reset(): void;
}

const READ = /^(Get|List|Head|Describe|Simulate)/;

export function isWriteCommand(name: string): boolean {
  return !READ.test(name);
}

export function countCalls(client: MiddlewareClient): CallCounts {
  let counts: Record<string, number> = {};
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      const name = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      counts[name] = (counts[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'podiamCallCounter', override: true },
  );
  return {
    byName: () => Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1))),
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    writes: () => Object.entries(counts).filter(([k]) => isWriteCommand(k)).reduce((a, [, v]) => a + v, 0),
    reset: () => {
      counts = {};
    },
  };
}
