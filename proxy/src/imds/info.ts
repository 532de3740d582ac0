/**
 * GET /latest/meta-data/iam/info, consistent with the pod's role: an instance profile of the
 * role's name and path (what the SDKs and tools that read it expect to see), never the node's.
 */
import { createHash } from 'node:crypto';
import type { CallerRoles } from './caller.ts';
import { imdsTime, json, type Reply } from './reply.ts';

/** A stable, IAM-shaped ID ('AIPA' + 17 characters) derived from the role ARN. */
export function instanceProfileId(roleArn: string): string {
  const digest = createHash('sha256').update(roleArn).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = 'AIPA';
  for (let i = 0; i < 17; i++) out += alphabet[digest[i]! % 32];
  return out;
}

export async function infoReply(ip: string, roles: CallerRoles, now: () => Date = () => new Date()): Promise<Reply> {
  const { decision } = await roles.resolve(ip);
  const arn = decision.role.arn.replace(/:role\//, ':instance-profile/');
  return json({ Code: 'Success', LastUpdated: imdsTime(now()), InstanceProfileArn: arn, InstanceProfileId: instanceProfileId(decision.role.arn) });
}
