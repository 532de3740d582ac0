/** GET /latest/meta-data/iam/security-credentials/ → the one role name this pod may ask for. */
import type { CallerRoles } from './caller.ts';
import { text, type Reply } from './reply.ts';

export async function roleNameReply(ip: string, roles: CallerRoles): Promise<Reply> {
  const { decision } = await roles.resolve(ip);
  return text(decision.role.name);
}
