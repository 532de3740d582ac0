// Where a server's CPU goes at saturation, from a V8 CPU profile (`node --cpu-prof`): self time by
// category, per answer. bench:proxy --profile runs it on the proxy and the bare server alike, so
// the difference per category is what the proxy spends beyond a bare node:http server.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The category of a sampled frame; `bundle` is the file name of the server's own code. */
export function categoryOf(frame: { functionName: string; url: string }, bundle: string): string | undefined {
  const { functionName: fn, url } = frame;
  if (fn === '(idle)') return undefined;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'native, outside any JS function ((program))';
  if (fn === 'writeUtf8String' || fn === 'writev' || fn === 'writeBuffer') return 'socket write (native)';
  if (url.endsWith(bundle)) return `the server's own code (${bundle})`;
  if (/node:_http_/.test(url)) return "node's http";
  if (/^node:(net|stream|internal\/streams|events|timers|internal\/timers|internal\/process\/task_queues|buffer)/.test(url)) return "node's net, streams, events, timers, ticks";
  if (!url) return 'other native (regexps, clock, …)';
  return 'other node internals';
}

/** Self time (µs) by category over every profile in dir, and the busy total (µs, idle excluded). */
export function profileCategories(dir: string, bundle: string): { byCategory: Map<string, number>; busyMicros: number } {
  const byCategory = new Map<string, number>();
  let busyMicros = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const category = categoryOf(byId.get(id)!.callFrame, bundle);
      if (!category) return;
      const dt = profile.timeDeltas[i] ?? 0;
      busyMicros += dt;
      byCategory.set(category, (byCategory.get(category) ?? 0) + dt);
    });
  }
  return { byCategory, busyMicros };
}
