/**
 * The proxy process: config → startProxy; SIGTERM/SIGINT: stop accepting, drain, then keep or
 * remove the iptables rules (proxy/src/rule-on-shutdown.ts), exit. A bad setting exits 2 with the ConfigError's message (setting and fix).
 */
import { ConfigError, describeError } from '../../core/src/errors.ts';
import { parseConfig } from './config.ts';
import { createLogger } from './log.ts';
import { startProxy } from './proxy.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(JSON.stringify({ level: 'fatal', code: err.code, msg: err.message }));
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const proxy = await startProxy(config, { logger });
  logger.info({ port: proxy.port, metricsPort: proxy.metricsPort, node: config.nodeName }, 'podiam proxy listening');
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down: draining, then deciding on the iptables rules');
    proxy.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: describeError(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', ...describeError(err) }));
  process.exit(1);
});
