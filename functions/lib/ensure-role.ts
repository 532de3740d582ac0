/**
 * The admission webhook's IAM half: makes sure one desired managed role exists before a pod that
 * uses it is admitted. Next to apply.ts, the other IAM writes, and bound by the same rule: only
 * roles that carry this cluster's podiam tags under its path are ours. A role of the same name
 * without them is reported as a collision and never adopted or changed.
 *
 * It answers within a deadline: IAM calls still running when it passes are aborted, and the
 * answer is 'pending' (the admission handler then refuses the pod with a retryable 503 and the
 * reconcile function finishes the role meanwhile).
 */
import { GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import type { DesiredRole } from '../../iam-model/src/desired-state.ts';
import { awsErrorName, isNoSuchEntity } from '../../iam-model/src/errors.ts';
import { isManagedFor } from '../../iam-model/src/plan.ts';
import { createManagedRole } from './apply.ts';
import type { Logger } from './log.ts';

export type EnsureOutcome =
  | { state: 'exists' }
  | { state: 'created' }
  | { state: 'would-create' }
  | { state: 'collision'; code: 'PODIAM_ROLE_NAME_COLLISION'; message: string }
  | { state: 'pending'; message: string };

export interface EnsureRequest {
  /** Epoch ms (as `now` counts) by which the answer is due. */
  deadline: number;
  /** A dry-run admission: look, never create. */
  dryRun: boolean;
}

export interface RoleEnsurerOptions {
  cluster: string;
  log?: Logger;
  now?: () => number;
  /** A role known to exist is not asked for again for this long. */
  existsTtlMs?: number;
}

export type RoleEnsurer = (role: DesiredRole, request: EnsureRequest) => Promise<EnsureOutcome>;

const EXISTS_TTL_MS = 5 * 60_000;

export function createRoleEnsurer(iam: IAMClient, options: RoleEnsurerOptions): RoleEnsurer {
  const { cluster } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const ttl = options.existsTtlMs ?? EXISTS_TTL_MS;
  const knownToExist = new Map<string, number>();

  const attempt = async (role: DesiredRole, dryRun: boolean, abortSignal: AbortSignal, retried: boolean): Promise<EnsureOutcome> => {
    const seen = knownToExist.get(role.name);
    if (seen !== undefined && seen > now()) return { state: 'exists' };
    try {
      const got = await iam.send(new GetRoleCommand({ RoleName: role.name }), { abortSignal });
      const tags = Object.fromEntries((got.Role?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      // The name is unique per account whatever the path: a role someone else made under this
      // name, or one whose podiam tags name another service, must never receive our trust
      // policy or our permissions, nor be let through as this pod's role.
      const existing = { name: got.Role?.RoleName ?? role.name, path: got.Role?.Path ?? '', tags };
      if (!isManagedFor(existing, role.ref, role.path)) {
        const tagged = tags['podiam:cluster'] === cluster && tags['podiam:namespace'] !== undefined;
        return {
          state: 'collision',
          code: 'PODIAM_ROLE_NAME_COLLISION',
          message: tagged
            ? `role name ${role.name} is taken by ${got.Role?.Arn}, whose podiam tags name ${tags['podiam:namespace']}/${tags['podiam:service']}, not ${role.ref.namespace}/${role.ref.service}; podiam never adopts it`
            : `role name ${role.name} is taken by ${got.Role?.Arn}, which is not managed by cluster ${cluster}; podiam never adopts it`,
        };
      }
      knownToExist.set(role.name, now() + ttl);
      return { state: 'exists' };
    } catch (err: unknown) {
      if (!isNoSuchEntity(err)) throw err;
    }
    if (dryRun) return { state: 'would-create' };
    try {
      await createManagedRole(iam, role, { abortSignal });
    } catch (err: unknown) {
      // Another admission (or reconcile) created it a moment ago: ours after all if it carries our tags.
      // Once only: IAM's eventual consistency could otherwise bounce between "missing" and "exists".
      if (awsErrorName(err) !== 'EntityAlreadyExistsException' || retried) throw err;
      knownToExist.delete(role.name);
      return attempt(role, dryRun, abortSignal, true);
    }
    knownToExist.set(role.name, now() + ttl);
    log('info', 'created role on demand', { role: role.name, file: role.file });
    return { state: 'created' };
  };

  /**
   * One look-up (and creation) per role at a time: the pods of a rollout that ask for the same
   * role while it is being checked share its IAM calls instead of each sending GetRole, which is
   * how a large rollout met IAM throttling. Evicted when settled, so a failure is not cached.
   */
  const inFlight = new Map<string, Promise<EnsureOutcome>>();

  const shared = (role: DesiredRole, dryRun: boolean, left: number, pending: EnsureOutcome): Promise<EnsureOutcome> => {
    const key = `${dryRun ? 'dry-run' : 'create'}:${role.name}`;
    const running = inFlight.get(key);
    if (running) return running;
    const controller = new AbortController();
    // Abort, not just stop waiting: an unanswered CreateRole must not go on writing after the
    // pod was refused, and the SDK's retry sleeps end with the signal too. The first caller's
    // deadline bounds the shared call; later callers' deadlines are at most as far.
    const timer = setTimeout(() => controller.abort(), left);
    const work = attempt(role, dryRun, controller.signal, false)
      .catch((err: unknown) => {
        if (controller.signal.aborted) return pending;
        throw err;
      })
      .finally(() => {
        clearTimeout(timer);
        inFlight.delete(key);
      });
    inFlight.set(key, work);
    return work;
  };

  return async (role, { deadline, dryRun }) => {
    const pending: EnsureOutcome = { state: 'pending', message: `role ${role.name} was not ready before the deadline` };
    const left = deadline - now();
    if (left <= 0) return pending;
    const seen = knownToExist.get(role.name);
    if (seen !== undefined && seen > now()) return { state: 'exists' };
    let timer: NodeJS.Timeout | undefined;
    const mine = new Promise<EnsureOutcome>((resolve) => {
      timer = setTimeout(() => resolve(pending), left);
    });
    try {
      return await Promise.race([shared(role, dryRun, left, pending), mine]);
    } finally {
      clearTimeout(timer);
    }
  };
}
