// A small Dockerfile parser for the chart tests: comments, backslash continuations, heredocs and stages.
// Enough for checking proxy/Dockerfile's key properties (no container engine runs here).

export interface Instruction {
  keyword: string;
  args: string;
  /** Body of a heredoc (`RUN <<'X' ... X`), if any. */
  heredoc?: string;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** A small Dockerfile parser: comments, `\` continuations and heredocs; enough for the checks below. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`cannot parse Dockerfile line ${i + 1}: ${line}`);
    const ins: Instruction = { keyword: m[1]!.toUpperCase(), args: m[2]!.trim() };
    const here = /<<-?'?(\w+)'?/.exec(ins.args);
    if (here) {
      const body: string[] = [];
      while (++i < lines.length && lines[i] !== here[1]) body.push(lines[i]!);
      ins.heredoc = body.join('\n');
    }
    instructions.push(ins);
  }
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`cannot parse FROM ${ins.args}`);
      stages.push({ from: m[1]!, name: m[2], instructions: [] });
    } else if (ins.keyword !== 'ARG' || stages.length) {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${ins.keyword} before the first FROM`);
      stage.instructions.push(ins);
    }
  }
  return stages;
}
