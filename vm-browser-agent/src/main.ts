/**
 * Entry point of the VM agent (`webrtc-server`). Builds every part in order,
 * and on SIGTERM/SIGINT shuts them down in reverse order, logging each step.
 */
import { ConfigError } from '@vmlive/protocol';
import { tuneHeapForLongRunningService } from '@vmlive/protocol/node-heap';
import { JwksAutomationAuth } from './cdp/automation-auth.js';
import { ControlCell } from './cdp/control-view.js';
import { CdpGateway, isLoopbackHost } from './cdp/gateway.js';
import { type AgentConfig, describeAgentSettings, parseAgentConfig } from './config.js';
import { ControllerClient } from './controller/controller-client.js';
import { HelperProcess } from './helper/helper-process.js';
import { HelperSupervisor } from './helper-supervisor.js';
import { createLogger } from './logger.js';
import { raisePriority } from './priority.js';
import { WebRtcServer } from './webrtc-server.js';

const EXIT_BAD_CONFIG = 2;

async function main(): Promise<void> {
  const v8Flags = tuneHeapForLongRunningService();
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
  log.debug({ v8Flags }, 'heap tuned for a long-running service');
  raisePriority(config.helper.nice, log);
  const client = new ControllerClient({ baseUrl: config.controllerUrl, vmId: config.vmId, token: config.vmToken });
  const supervisor = new HelperSupervisor(
    () =>
      new HelperProcess({
        python: config.python,
        script: config.helperScript,
        settings: config.helper,
        logger: log,
        startTimeoutMs: config.helperStartTimeoutS * 1000,
      }),
    log.child({ module: 'supervisor' }),
  );
  // The CDP gateway: the automation's way into the VM browser, holding its page-changing
  // commands while a person has control (cdp/README.md).
  const control = new ControlCell();
  const gateway = config.cdpUpstream
    ? new CdpGateway({
        upstreamUrl: config.cdpUpstream,
        host: config.cdpHost,
        port: config.cdpPort,
        control,
        whileHeld: config.cdpWhileHeld,
        holdMaxMs: config.cdpHoldMaxS * 1000,
        maxMessageBytes: config.cdpMaxMessageMiB * 1024 * 1024,
        ...(isLoopbackHost(config.cdpHost)
          ? {}
          : { auth: new JwksAutomationAuth({ controllerUrl: config.controllerUrl, vmId: config.vmId, log }) }),
        log: log.child({ module: 'cdp-gateway' }),
      })
    : undefined;
  const server = new WebRtcServer({
    client,
    supervisor,
    log: log.child({ module: 'webrtc-server' }),
    iceServers: config.iceServers,
    heartbeatMs: config.heartbeatMs,
    longPollSeconds: config.longPollSeconds,
    recordingSpoolDir: config.recordingSpoolDir,
    onControl: (c) => control.set(c),
    ...(gateway ? { extraStats: () => ({ cdpGateway: gateway.stats }) } : {}),
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    if (gateway) {
      await gateway.stop();
      log.info('cdp gateway stopped');
    }
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
  if (gateway) {
    // Serve the automation only once the real control state is known: a restarted VM agent must
    // not let commands through while a person still holds control at the controller.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      if (control.get().since > 0) resolve();
      const off = control.subscribe(() => {
        off();
        clearTimeout(timer);
        resolve();
      });
    });
    const { url } = await gateway.start();
    log.info({ url, whileHeld: config.cdpWhileHeld, auth: !isLoopbackHost(config.cdpHost) }, 'cdp gateway listening');
  }
  log.info('agent running');
}

main().catch((err: unknown) => {
  process.stderr.write(`vm-agent: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
