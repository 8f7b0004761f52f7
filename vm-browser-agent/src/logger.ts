import pino, { type Logger } from 'pino';

/** The agent's root logger: JSON lines on stdout, VM id on every line. */
export function createLogger(level: string, vmId: string): Logger {
  // Synchronous, as the controller's (master-controller createLogger): with pino's asynchronous
  // default, a process whose stdout reader has gone never finishes exiting.
  return pino({ level, base: { svc: 'vm-agent', vmId } }, pino.destination({ dest: 1, sync: true }));
}
