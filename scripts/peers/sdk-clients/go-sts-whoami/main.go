// go-sts-whoami prints the identity that STS GetCallerIdentity returns to the AWS SDK for Go v2 with its
// default credential chain, unmodified: config.LoadDefaultConfig and nothing else. With
// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE set, that chain ends at the
// container credential provider (credentials/endpointcreds), which is what podiam's token door answers;
// AWS_ENDPOINT_URL_STS points it at a test STS. One JSON line {Arn, Account, UserId} on success; on failure
// "no identity: ..." on stderr and exit 1.
//
// The container provider over plain http accepts 169.254.170.23: in aws-sdk-go-v2/config v1.33.18,
// resolve_credentials.go's resolveLocalHTTPCredProvider lets an http FULL_URI through only when
// isAllowedHost/isIPAllowed holds: a loopback address, ecsContainerIPv4 (169.254.170.2), eksContainerIPv4
// (169.254.170.23) or eksContainerIPv6 (fd00:ec2::23). The token is read from
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE on every fetch (resolveHTTPCredProvider), as kubelet rotates it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "no identity: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	if err != nil {
		return err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]string{
		"Arn":     aws.ToString(out.Arn),
		"Account": aws.ToString(out.Account),
		"UserId":  aws.ToString(out.UserId),
	})
}
