/**
 * The controller calls of rootfs/vm.sh, on the protocol's ApiClient: create a
 * VM, wait until it is online, delete it, probe /healthz. Each returns an exit
 * code (options.ts) and says what went wrong on stderr; decisions are taken on
 * the client's error classes and registry codes, never on a bare status.
 */
import { readFileSync } from 'node:fs';
import {
  ApiClient,
  ApiError,
  ClientError,
  InvalidResponseError,
  NetworkError,
  type Route,
  routes,
  TimeoutError,
} from '@vmlive/protocol';
import { type Command, EXIT } from './options.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const PROG = 'vm-controller';

/** Deadline of one request (curl's --max-time in the shell version). */
const REQUEST_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 500;

type ApiCommand = Exclude<Command, { kind: 'help' }>;

export async function runCommand(cmd: ApiCommand, io: Io): Promise<number> {
  const api = new ApiClient({
    baseUrl: cmd.controller,
    ...('token' in cmd ? { token: cmd.token } : {}),
    timeoutMs: cmd.kind === 'reachable' ? cmd.timeoutS * 1000 : REQUEST_TIMEOUT_MS,
  });
  switch (cmd.kind) {
    case 'create':
      return attempt(io, cmd.controller, routes.createVm, async () => {
        const vm = await api.call(routes.createVm, { body: { name: cmd.name } });
        // The caller splits this line on the tab; a JWT never holds whitespace, but say so if one does.
        if (/\s/.test(vm.vmToken)) throw new InvalidResponseError('POST /api/vms: vmToken contains whitespace');
        io.out(`${vm.vmId}\t${vm.vmToken}`);
        return EXIT.ok;
      });
    case 'wait-online':
      return attempt(io, cmd.controller, routes.listVms, () => waitOnline(api, cmd, io));
    case 'delete':
      return attempt(io, cmd.controller, routes.deleteVm, async () => {
        try {
          await api.call(routes.deleteVm, { params: { vmId: cmd.vmId } });
        } catch (err) {
          // Already gone is what delete wants.
          if (!(err instanceof ApiError && err.is('vm_not_found'))) throw err;
        }
        return EXIT.ok;
      });
    case 'reachable':
      return attempt(io, cmd.controller, routes.healthz, async () => {
        await api.call(routes.healthz, {});
        return EXIT.ok;
      });
  }
}

async function waitOnline(api: ApiClient, cmd: Extract<Command, { kind: 'wait-online' }>, io: Io): Promise<number> {
  const deadline = Date.now() + cmd.timeoutS * 1000;
  for (;;) {
    if (cmd.pid !== undefined && !processRuns(cmd.pid)) return EXIT.stopped;
    try {
      const { vms } = await api.call(routes.listVms, {
        timeoutMs: Math.max(1000, Math.min(REQUEST_TIMEOUT_MS, deadline - Date.now())),
      });
      const vm = vms.find((v) => v.vmId === cmd.vmId);
      if (!vm) {
        io.err(`${PROG}: error: the controller at ${cmd.controller} has no VM ${cmd.vmId}; it will never come online`);
        return EXIT.failed;
      }
      if (vm.online) return EXIT.ok;
    } catch (err) {
      // A controller restarting or shutting down answers again soon; anything else will not change by waiting.
      const passing =
        err instanceof NetworkError ||
        err instanceof TimeoutError ||
        (err instanceof ApiError && err.is('shutting_down'));
      if (!passing) throw err;
    }
    if (Date.now() >= deadline) return EXIT.notOnline;
    await new Promise((r) => setTimeout(r, Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now()))));
  }
}

/**
 * Whether PID is a live process. A zombie counts as ended: an exited nspawn
 * stays one until the shell that started it in the background reaps it.
 */
export function processRuns(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Runs one call, turning the client's typed errors into a message and an exit code. */
async function attempt(io: Io, controller: string, route: Route, call: () => Promise<number>): Promise<number> {
  const what = `${route.method} ${route.path}`;
  try {
    return await call();
  } catch (err) {
    if (err instanceof NetworkError || err instanceof TimeoutError) {
      io.err(`${PROG}: error: cannot reach the controller at ${controller} (${what}: ${transportDetail(err)})`);
      return EXIT.unreachable;
    }
    if (err instanceof ApiError) {
      const field = err.field ? ` (field ${err.field})` : '';
      io.err(`${PROG}: error: the controller refused ${what}: ${err.status} ${err.code}: ${err.message}${field}`);
      return EXIT.failed;
    }
    if (err instanceof ClientError) {
      io.err(`${PROG}: error: the controller at ${controller} answered outside the protocol: ${err.message}`);
      return EXIT.failed;
    }
    throw err;
  }
}

/**
 * fetch wraps the socket's error ("connect ECONNREFUSED …") in a bare "fetch
 * failed": say the socket's. A timeout says its own deadline.
 */
function transportDetail(err: NetworkError | TimeoutError): string {
  let e: Error = err;
  if (err instanceof NetworkError) while (e.cause instanceof Error) e = e.cause;
  // The client's own messages start with the route, which the caller names already.
  return e.message.replace(/^[A-Z]+ \S+: /, '');
}
