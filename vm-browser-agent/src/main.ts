/**
 * Entry point of the VM agent (`webrtc-server`). Builds every part in order,
 * and on SIGTERM/SIGINT shuts them down in reverse order, logging each step.
 */
import { ConfigError } from '@vmlive/protocol';
import { type AgentConfig, describeAgentSettings, parseAgentConfig } from './config.js';
import { ControllerClient } from './controller/controller-client.js';
import { HelperProcess } from './helper/helper-process.js';
import { HelperSupervisor } from './helper-supervisor.js';
import { createLogger } from './logger.js';
import { WebRtcServer } from './webrtc-server.js';

const EXIT_BAD_CONFIG = 2;

async function main(): Promise<void> {
  let config: AgentConfig;
  try {
    config = parseAgentConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        `vm-agent: invalid configuration: ${err.message}\n\nSettings:\n${describeAgentSettings()}\n`,
      );
      process.exit(EXIT_BAD_CONFIG);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, config.vmId);
  const client = new ControllerClient({ baseUrl: config.controllerUrl, vmId: config.vmId, token: config.vmToken });
  const supervisor = new HelperSupervisor(
    () =>
      new HelperProcess({ python: config.python, script: config.helperScript, settings: config.helper, logger: log }),
    log.child({ module: 'supervisor' }),
  );
  const server = new WebRtcServer({
    client,
    supervisor,
    log: log.child({ module: 'webrtc-server' }),
    iceServers: config.iceServers,
    heartbeatMs: config.heartbeatMs,
    longPollSeconds: config.longPollSeconds,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await server.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  supervisor.on('fatal', (err) => {
    log.fatal({ err }, 'helper cannot run');
    process.exit(EXIT_BAD_CONFIG);
  });

  log.info(
    {
      controller: config.controllerUrl,
      display: config.helper.display,
      codec: config.helper.codec,
      size: `${config.helper.width}x${config.helper.height}@${config.helper.fps}`,
    },
    'agent starting',
  );
  await server.start();
  log.info('agent running');
}

main().catch((err: unknown) => {
  process.stderr.write(`vm-agent: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
