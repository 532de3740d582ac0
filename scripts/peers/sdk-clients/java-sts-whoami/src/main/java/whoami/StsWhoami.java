// java-sts-whoami prints the identity that STS GetCallerIdentity returns to the AWS SDK for Java v2 with its
// default credential chain, unmodified: StsClient.create() and nothing else (the default region chain reads
// AWS_REGION; the default credentials chain ends at ContainerCredentialsProvider when
// AWS_CONTAINER_CREDENTIALS_FULL_URI is set, which is what podiam's token door answers). One JSON line
// {Arn, Account, UserId} on stdout, like go-sts-whoami; on failure "no identity: ..." on stderr and exit 1.
//
// AWS_ENDPOINT_URL_STS points it at a test STS with no code here: in sts 2.57.8,
// DefaultStsBaseClientBuilder.finalizeServiceConfiguration builds its AwsClientEndpointProvider with
// serviceEndpointOverrideEnvironmentVariable("AWS_ENDPOINT_URL_STS") (and the system property
// aws.endpointUrlSts), read by aws-core's AwsClientEndpointProvider.clientEndpointFromEnvironment.
//
// The container provider over plain http accepts 169.254.170.23: in auth 2.57.8,
// ContainerCredentialsProvider.ContainerCredentialsEndpointProvider.validateURI lets a non-https
// AWS_CONTAINER_CREDENTIALS_FULL_URI through only when isAllowedHost(host) holds: every address the host
// resolves to is a loopback address (ALLOWED_HOSTS_RULES = IS_LOOPBACK_ADDRESS), or isMetadataServiceEndpoint
// (host): the host string is in VALID_LOOP_BACK_IPV4 ("169.254.170.2", "169.254.170.23") or
// VALID_LOOP_BACK_IPV6 ("[fd00:ec2::23]"). headers() reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE on every
// fetch (readToken, Files.readAllBytes) and sends it as the Authorization header, so a rotated token is
// picked up. (Read from the compiled classes with javap: the registry here serves no -sources.jar for 2.57.8.)
package whoami;

import software.amazon.awssdk.services.sts.StsClient;
import software.amazon.awssdk.services.sts.model.GetCallerIdentityResponse;

public final class StsWhoami {
  private StsWhoami() {}

  public static void main(String[] args) {
    try (StsClient sts = StsClient.create()) {
      GetCallerIdentityResponse out = sts.getCallerIdentity();
      System.out.println("{\"Arn\":" + json(out.arn()) + ",\"Account\":" + json(out.account()) + ",\"UserId\":" + json(out.userId()) + "}");
    } catch (RuntimeException err) {
      System.err.println("no identity: " + String.valueOf(err.getMessage()).replace('\n', ' '));
      System.exit(1);
    }
  }

  /** A JSON string literal (or null): the three values are ASCII identifiers, but escape anyway. */
  private static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
