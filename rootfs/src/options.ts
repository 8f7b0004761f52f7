/**
 * The command line of vm-controller: which controller call, against which
 * controller, with which arguments. Parsed once into a frozen `Command`; a bad
 * argument is a UsageError naming the option (exit 2).
 */
import { CreateVmBody, Id } from '@vmlive/protocol';

/** Exit codes; rootfs/vm.sh decides on them (and maps every failure to its own exit 1). */
export const EXIT = Object.freeze({
  ok: 0,
  /** The controller refused the call, or answered outside the protocol. */
  failed: 1,
  usage: 2,
  /** No answer from the controller (refused, reset, no route, no answer in time). */
  unreachable: 3,
  /** wait-online: the VM was not online within --timeout. Nothing is printed: the caller says what it means. */
  notOnline: 4,
  /** wait-online: the --pid process ended first. Nothing is printed: the caller says what it means. */
  stopped: 5,
});

export const TOKEN_ENV = 'VMLIVE_OPERATOR_TOKEN';

export const USAGE = `usage: node rootfs/dist/vm-controller.js COMMAND --controller URL [options]

The controller calls of rootfs/vm.sh, made with the protocol's REST client
(protocol/src/client.ts), which validates every answer against the contract.
The operator token comes from the environment, ${TOKEN_ENV}, never from the
command line, where every user of the host could read it.

commands:
  create --name NAME          POST /api/vms; prints "VM_ID<TAB>VM_TOKEN"
  wait-online --vm-id ID --timeout SECONDS [--pid PID]
                              polls GET /api/vms every 0.5 s until the VM is online;
                              with --pid, stops waiting when that process ends
  delete --vm-id ID           DELETE /api/vms/:vmId; a VM the controller no longer
                              has counts as deleted
  reachable [--timeout SECONDS]
                              GET /healthz, no token (default timeout 5 s)

options:
  --controller URL            the controller's http(s) base URL (required)
  -h, --help                  this text

exit codes: 0 done, 1 refused or answered outside the protocol, 2 bad usage,
3 controller unreachable, 4 not online within --timeout, 5 --pid ended first
(4 and 5 print nothing: the caller knows what they mean for its VM).`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'create'; readonly controller: string; readonly token: string; readonly name: string }
  | {
      readonly kind: 'wait-online';
      readonly controller: string;
      readonly token: string;
      readonly vmId: string;
      readonly timeoutS: number;
      readonly pid: number | undefined;
    }
  | { readonly kind: 'delete'; readonly controller: string; readonly token: string; readonly vmId: string }
  | { readonly kind: 'reachable'; readonly controller: string; readonly timeoutS: number };

/** Options each command takes, besides --controller. */
const TAKES: Record<string, readonly string[]> = {
  create: ['--name'],
  'wait-online': ['--vm-id', '--timeout', '--pid'],
  delete: ['--vm-id'],
  reachable: ['--timeout'],
};

export function parseCommand(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Command {
  const [kind, ...rest] = argv;
  if (kind === undefined) throw new UsageError('a COMMAND is required: create, wait-online, delete or reachable');
  if (kind === '-h' || kind === '--help') return Object.freeze({ kind: 'help' });
  const takes = TAKES[kind];
  if (!takes) throw new UsageError(`unknown command: ${kind}`);

  const values = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const opt = rest[i] ?? '';
    if (opt === '-h' || opt === '--help') return Object.freeze({ kind: 'help' });
    if (opt !== '--controller' && !takes.includes(opt)) throw new UsageError(`${kind} does not take ${opt}`);
    const value = rest[++i];
    if (value === undefined || value === '') throw new UsageError(`${opt} needs a value`);
    values.set(opt, value);
  }

  const controller = controllerUrl(values.get('--controller'));
  switch (kind) {
    case 'create': {
      const name = required(values, '--name');
      if (!CreateVmBody.safeParse({ name }).success) throw new UsageError(`--name must be 1-128 characters: ${name}`);
      return Object.freeze({ kind, controller, token: operatorToken(env), name });
    }
    case 'wait-online': {
      const pid = values.get('--pid');
      return Object.freeze({
        kind,
        controller,
        token: operatorToken(env),
        vmId: vmId(required(values, '--vm-id')),
        timeoutS: seconds('--timeout', required(values, '--timeout')),
        pid: pid === undefined ? undefined : positiveInt('--pid', pid),
      });
    }
    case 'delete':
      return Object.freeze({ kind, controller, token: operatorToken(env), vmId: vmId(required(values, '--vm-id')) });
    case 'reachable':
      return Object.freeze({ kind, controller, timeoutS: seconds('--timeout', values.get('--timeout') ?? '5') });
    default:
      throw new UsageError(`unknown command: ${kind}`);
  }
}

function required(values: ReadonlyMap<string, string>, opt: string): string {
  const v = values.get(opt);
  if (v === undefined) throw new UsageError(`${opt} is required`);
  return v;
}

function controllerUrl(raw: string | undefined): string {
  if (raw === undefined) throw new UsageError('--controller is required');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--controller must be an http(s) URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--controller must be an http(s) URL: ${raw}`);
  }
  return raw.replace(/\/+$/, '');
}

function operatorToken(env: Readonly<Record<string, string | undefined>>): string {
  const token = env[TOKEN_ENV];
  if (!token) throw new UsageError(`${TOKEN_ENV} is not set (the operator token this call needs)`);
  return token;
}

function vmId(raw: string): string {
  if (!Id.safeParse(raw).success) throw new UsageError(`--vm-id must be 1-64 characters of A-Z a-z 0-9 _ -: ${raw}`);
  return raw;
}

function seconds(opt: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n)) throw new UsageError(`${opt} must be seconds: ${raw}`);
  return n;
}

function positiveInt(opt: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || !Number.isSafeInteger(n)) {
    throw new UsageError(`${opt} must be a positive integer: ${raw}`);
  }
  return n;
}
