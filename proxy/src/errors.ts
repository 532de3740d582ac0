/**
 * The proxy's failures: a PodiamError whose code is in core's table, with that table's fix as the
 * message unless a more specific one is given. Handlers throw these; server.ts answers them.
 */
import { PodiamError, errorCodes, type PodiamErrorOptions } from '../../core/src/errors.ts';

export type ProxyErrorCode = keyof typeof errorCodes;

export class ProxyError extends PodiamError {
  constructor(code: ProxyErrorCode, detail?: string, options: PodiamErrorOptions = {}) {
    const fix = errorCodes[code].fix;
    super(code, detail ? `${detail}. ${fix}` : fix, options);
  }
}
