/** JSON logs (pino). Credentials and tokens never reach a log line: they are redacted by path too. */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'token',
  'credentials',
  '*.token',
  '*.Token',
  '*.SecretAccessKey',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.SessionToken',
  '*.accessKeyId',
  '*.AccessKeyId',
  'headers["x-aws-ec2-metadata-token"]',
  '*.headers["x-aws-ec2-metadata-token"]',
  'headers.authorization',
  '*.headers.authorization',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { component: 'podiam-proxy' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as never,
  );
}
