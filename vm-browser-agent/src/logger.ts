import pino, { type Logger } from 'pino';

/** The agent's root logger: JSON lines on stdout, VM id on every line. */
export function createLogger(level: string, vmId: string): Logger {
  return pino({ level, base: { svc: 'vm-agent', vmId } });
}
