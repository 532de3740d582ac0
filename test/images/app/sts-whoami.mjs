// Prints the ARN that STS GetCallerIdentity returns to the AWS SDK for JavaScript v3 with its default
// credential chain. In a pod without AWS_* credentials that chain ends at the instance metadata service
// (169.254.169.254, or AWS_EC2_METADATA_SERVICE_ENDPOINT), which is what podiam's proxy answers.
// AWS_ENDPOINT_URL_STS points it at a test STS. Exit 1 with the error's name when there is no identity.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

try {
  const sts = new STSClient({ region: process.env.AWS_REGION ?? 'us-east-1', maxAttempts: 1 });
  const id = await sts.send(new GetCallerIdentityCommand({}));
  console.log(id.Arn);
} catch (err) {
  console.error(`no identity: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  process.exit(1);
}
