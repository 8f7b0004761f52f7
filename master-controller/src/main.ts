/**
 * `node master-controller/dist/main.js`: read the env once, start, stop on
 * SIGTERM/SIGINT. Exit 2 means bad settings.
 */
import { tuneHeapForLongRunningService } from '@vmlive/protocol/node-heap';
import { ConfigError, configFromEnv } from './config.js';
import { createLogger, startController } from './server.js';

export const EXIT_BAD_CONFIG = 2;

async function main(): Promise<void> {
  const v8Flags = tuneHeapForLongRunningService();
  let config: ReturnType<typeof configFromEnv>;
  try {
    config = configFromEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`master-controller: bad setting ${err.message}\n`);
      process.exit(EXIT_BAD_CONFIG);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  logger.debug({ v8Flags }, 'heap tuned for a long-running service');
  const controller = await startController(config, logger).catch((err: unknown) => {
    logger.fatal({ err }, 'controller failed to start');
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'signal received');
    controller.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A renewed certificate (e.g. by certbot) is picked up without a restart or a dropped long-poll.
  process.on('SIGHUP', () => controller.reloadTls());
}

void main();
