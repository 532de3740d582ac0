/** What the credential cache needs from STS: one call, named for the consumer. */
export interface AssumeRequest {
  roleArn: string;
  sessionName: string;
  externalId?: string | undefined;
  durationSeconds: number;
  /** Session tags; empty when tagging is switched off. */
  tags: Array<{ Key: string; Value: string }>;
}

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  /** When STS issued them (LastUpdated in the IMDS answer). */
  issuedAt: Date;
}

export interface CredentialSource {
  assume(request: AssumeRequest): Promise<IssuedCredentials>;
}
