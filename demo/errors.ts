/** The demo harness's own failures: a step that did not happen in time or as it must. */
import { PodiamError } from '../core/src/errors.ts';

export class DemoError extends PodiamError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('PODIAM_DEMO_STEP_FAILED', message, options);
  }
}
