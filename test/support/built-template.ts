// Reads what `sam build` wrote into its template.yaml (intrinsics in their long form) and gives a function's
// Handler, Runtime and Environment as a deployed stack would: the stack's parameters (given, else their
// Default) substituted. An intrinsic this resolver does not know throws, naming it, so a template change
// cannot slip past the runtime tests with a variable quietly left out.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

type Json = unknown;
interface Template {
  Parameters?: Record<string, { Default?: Json }>;
  Globals?: { Function?: Record<string, Json> };
  Resources: Record<string, { Type: string; Properties?: Record<string, Json> }>;
}

export interface DeployedFunction {
  handler: string;
  runtime: string;
  env: Record<string, string>;
  memoryMb: number;
  timeoutSeconds: number;
}

/** Stack parameters, pseudo parameters and `Fn::GetAtt` values ('Resource.Attribute'). */
export type StackValues = Record<string, string | string[]>;

export function loadBuiltTemplate(file: string): Template {
  return parse(readFileSync(file, 'utf8')) as Template;
}

function resolve(v: Json, values: StackValues, where: string): string | string[] {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map((x) => resolve(x, values, where)).flat();
  const o = (v ?? {}) as Record<string, Json>;
  const [fn] = Object.keys(o);
  const arg = fn === undefined ? undefined : o[fn];
  const value = (name: string): string | string[] => {
    const got = values[name];
    if (got === undefined) throw new Error(`${where}: no value for ${name}; add it to the stack values of this test`);
    return got;
  };
  switch (fn) {
    case 'Ref':
      return value(String(arg));
    case 'Fn::GetAtt':
      return value(Array.isArray(arg) ? arg.join('.') : String(arg));
    case 'Fn::Join': {
      const [sep, parts] = arg as [string, Json];
      const list = resolve(parts, values, where);
      return (Array.isArray(list) ? list : [list]).filter((p) => p !== '').join(sep);
    }
    case 'Fn::Sub':
      return String(arg).replace(/\$\{([\w:.]+)\}/g, (_, name: string) => String(value(name)));
    default:
      throw new Error(`${where}: intrinsic ${fn ?? JSON.stringify(v)} is not resolved by test/support/built-template.ts`);
  }
}

export function deployedFunction(template: Template, logicalId: string, given: StackValues): DeployedFunction {
  const res = template.Resources[logicalId];
  if (res?.Type !== 'AWS::Serverless::Function') throw new Error(`${logicalId} is not a function of the built template`);
  const values: StackValues = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    if (p.Default !== undefined) values[name] = Array.isArray(p.Default) ? p.Default.map(String) : String(p.Default);
  }
  Object.assign(values, { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1' }, given);
  const globals = template.Globals?.Function ?? {};
  const props = { ...globals, ...res.Properties } as Record<string, Json>;
  const vars = {
    ...((globals.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {}),
    ...((res.Properties?.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {}),
  };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    const r = resolve(v, values, `${logicalId} ${k}`);
    env[k] = Array.isArray(r) ? r.join(',') : r;
  }
  return {
    handler: String(props.Handler),
    runtime: String(props.Runtime),
    env,
    memoryMb: Number(props.MemorySize ?? 128),
    timeoutSeconds: Number(props.Timeout ?? 3),
  };
}
