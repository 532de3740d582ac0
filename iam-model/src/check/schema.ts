/** JSON Schema validation of a policy file against policies/schema.json (compiled once). */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schema from '../../../policies/schema.json' with { type: 'json' };
import type { PathSegment } from './finding.ts';

let validator: ValidateFunction | undefined;

function compiled(): ValidateFunction {
  if (!validator) validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  return validator;
}

export interface SchemaProblem {
  path: PathSegment[];
  message: string;
}

function pointerToPath(pointer: string): PathSegment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties':
      return `unknown member '${(e.params as { additionalProperty: string }).additionalProperty}'; remove it or fix its spelling`;
    case 'required':
      return `add the required member '${(e.params as { missingProperty: string }).missingProperty}'`;
    case 'enum':
      return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type':
      return `must be ${(e.params as { type: string | string[] }).type.toString().replace(/,/g, ' or ')}`;
    case 'oneOf':
      return 'must be a string or a non-empty array of strings (or a statement object or array of statements)';
    default:
      return e.message ?? e.keyword;
  }
}

/**
 * Only the most specific errors: ajv reports a failed `oneOf` at the parent and each branch's
 * failures below it; the deepest ones say what to change. An unknown or missing member is a
 * problem of its own object whatever fails deeper, so it is always kept; where a `oneOf` failed
 * (a statement object, or an array of them), it is what to change rather than "must be an array".
 */
export function validateSchema(value: unknown): SchemaProblem[] {
  const validate = compiled();
  if (validate(value)) return [];
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if');
  const paths = errors.map((e) => e.instancePath);
  const ownObject = (e: ErrorObject) => e.keyword === 'additionalProperties' || e.keyword === 'required';
  const deepest = errors.filter((e) => ownObject(e) || !paths.some((p) => p !== e.instancePath && p.startsWith(`${e.instancePath}/`)));
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of deepest) byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  const out: SchemaProblem[] = [];
  for (const [pointer, errs] of byPath) {
    const specific = errs.filter((e) => e.keyword !== 'oneOf');
    const failedOneOf = errs.some((e) => e.keyword === 'oneOf');
    const ofItsType = specific.filter(ownObject);
    const chosen = specific.length === 1 ? specific : failedOneOf && ofItsType.length ? ofItsType : failedOneOf ? errs.filter((e) => e.keyword === 'oneOf') : specific.length ? specific : errs;
    const seen = new Set<string>();
    for (const e of chosen) {
      const message = describe(e);
      if (seen.has(message)) continue;
      seen.add(message);
      const path = pointerToPath(pointer);
      // Point at the offending member itself, not at the object that holds it.
      if (e.keyword === 'additionalProperties') path.push((e.params as { additionalProperty: string }).additionalProperty);
      out.push({ path, message });
    }
  }
  return out;
}
