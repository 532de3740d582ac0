// Asks the reference IAM simulator (@cloud-copilot/iam-simulate, AGPL: test/ only, never shipped)
// whether a session of a role may call sts:AssumeRole (with the namespace session tag) on
// another role, given both roles' policies as IAM holds them.
import { GetRoleCommand, GetRolePolicyCommand, ListRolePoliciesCommand, type IAMClient } from '@aws-sdk/client-iam';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { parseIamDocument } from '../../../iam-model/src/policy-compare.ts';
import { parseRoleArn } from '../../../core/src/naming.ts';

async function identityPolicies(iam: IAMClient, roleName: string) {
  const names = (await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
  return Promise.all(
    names.map(async (name) => ({
      name,
      policy: parseIamDocument((await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }))).PolicyDocument) as object,
    })),
  );
}

/** 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied' for `callerRoleArn`'s session assuming `targetRoleName`. */
export async function canAssume(iam: IAMClient, callerRoleArn: string, targetRoleName: string, namespaceTag: string): Promise<string> {
  const caller = parseRoleArn(callerRoleArn)!;
  const target = (await iam.send(new GetRoleCommand({ RoleName: targetRoleName }))).Role!;
  const result = await runSimulation(
    {
      identityPolicies: await identityPolicies(iam, caller.name),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: parseIamDocument(target.AssumeRolePolicyDocument) as object,
      request: {
        principal: `arn:aws:sts::${caller.accountId}:assumed-role/${caller.name}/i-0123456789abcdef0`,
        action: 'sts:AssumeRole',
        resource: { resource: target.Arn!, accountId: caller.accountId },
        contextVariables: { 'aws:RequestTag/kubernetes-namespace': namespaceTag, 'aws:TagKeys': ['kubernetes-namespace'] },
      },
    } as Parameters<typeof runSimulation>[0],
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation error: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}
