/**
 * vm-controller against a real controller on an ephemeral port, run in-process
 * through main() with captured output, as rootfs/vm.sh runs it.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, routes } from '@vmlive/protocol';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Controller, startController } from '../../master-controller/src/server.js';
import { processRuns } from './commands.js';
import { main } from './main.js';
import { EXIT } from './options.js';

interface Result {
  code: number;
  out: string[];
  err: string[];
}

let controller: Controller;
let env: Record<string, string>;

async function cli(args: string[], environment: Record<string, string | undefined> = env): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, environment, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** A port nothing listens on: one the kernel just handed out and that was closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function allVms() {
  const api = new ApiClient({ baseUrl: controller.url, token: controller.operatorToken });
  return (await api.call(routes.listVms, {})).vms;
}

async function listed(vmId: string) {
  return (await allVms()).find((v) => v.vmId === vmId);
}

async function create(name: string): Promise<{ vmId: string; vmToken: string }> {
  const r = await cli(['create', '--controller', controller.url, '--name', name]);
  expect(r.code, r.err.join('\n')).toBe(EXIT.ok);
  const [vmId = '', vmToken = ''] = (r.out[0] ?? '').split('\t');
  return { vmId, vmToken };
}

beforeAll(async () => {
  controller = await startController(
    { port: 0, host: '127.0.0.1', webDir: null, logLevel: 'silent' },
    pino({ level: 'silent' }),
  );
  env = { VMLIVE_OPERATOR_TOKEN: controller.operatorToken };
});

afterAll(async () => {
  await controller?.close();
});

describe('vm-controller create', () => {
  it('registers the VM under its name and prints its id and a working VM token', async () => {
    const { vmId, vmToken } = await create('web-1');
    expect((await listed(vmId))?.name).toBe('web-1');
    // The token is the VM's own: the controller accepts its heartbeat.
    const vm = new ApiClient({ baseUrl: controller.url, token: vmToken });
    await vm.call(routes.heartbeat, { params: { vmId }, body: {} });
  });

  it('names the refusal when the operator token is wrong, and registers nothing', async () => {
    const before = (await allVms()).length;
    const r = await cli(['create', '--controller', controller.url, '--name', 'x'], {
      VMLIVE_OPERATOR_TOKEN: 'not-the-operator-token',
    });
    expect(r.code).toBe(EXIT.failed);
    expect(r.err.join('\n')).toContain('refused POST /api/vms: 401 unauthorized');
    expect(r.err.join('\n')).not.toContain('not-the-operator-token');
    expect((await allVms()).length).toBe(before);
  });

  it('says the controller is unreachable (exit 3) when nothing listens at the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await cli(['create', '--controller', url, '--name', 'x']);
    expect(r.code).toBe(EXIT.unreachable);
    expect(r.err.join('\n')).toMatch(new RegExp(`cannot reach the controller at ${url} .*ECONNREFUSED`));
  });
});

describe('vm-controller wait-online', () => {
  it('returns once the VM heartbeats', async () => {
    const { vmId, vmToken } = await create('booting');
    const vm = new ApiClient({ baseUrl: controller.url, token: vmToken });
    const t0 = Date.now();
    const waiting = cli(['wait-online', '--controller', controller.url, '--vm-id', vmId, '--timeout', '10']);
    setTimeout(() => void vm.call(routes.heartbeat, { params: { vmId }, body: {} }), 700);
    const r = await waiting;
    expect(r.code, r.err.join('\n')).toBe(EXIT.ok);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('gives up after --timeout with exit 4 when the VM never comes online', async () => {
    const { vmId } = await create('silent');
    const t0 = Date.now();
    const r = await cli(['wait-online', '--controller', controller.url, '--vm-id', vmId, '--timeout', '1']);
    expect(r.code).toBe(EXIT.notOnline);
    expect(r.err).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('stops waiting with exit 5 once the --pid process has ended', async () => {
    const { vmId } = await create('crashing');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300)']);
    const pid = child.pid ?? 0;
    expect(processRuns(pid)).toBe(true);
    const t0 = Date.now();
    const r = await cli([
      'wait-online',
      '--controller',
      controller.url,
      '--vm-id',
      vmId,
      '--timeout',
      '30',
      '--pid',
      String(pid),
    ]);
    expect(r.code).toBe(EXIT.stopped);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('fails at once for a VM the controller does not have', async () => {
    const r = await cli(['wait-online', '--controller', controller.url, '--vm-id', 'no-such-vm', '--timeout', '30']);
    expect(r.code).toBe(EXIT.failed);
    expect(r.err.join('\n')).toContain('has no VM no-such-vm');
  });
});

describe('vm-controller delete', () => {
  it('removes the VM, and counts a VM already gone as deleted', async () => {
    const { vmId } = await create('doomed');
    const args = ['delete', '--controller', controller.url, '--vm-id', vmId];
    expect((await cli(args)).code).toBe(EXIT.ok);
    expect(await listed(vmId)).toBeUndefined();
    const again = await cli(args);
    expect(again.code).toBe(EXIT.ok);
    expect(again.err).toEqual([]);
  });
});

describe('vm-controller reachable', () => {
  it('answers 0 for a live controller without a token and 3 where nothing listens', async () => {
    expect((await cli(['reachable', '--controller', `${controller.url}/`], {})).code).toBe(EXIT.ok);
    const r = await cli(['reachable', '--controller', `http://127.0.0.1:${await closedPort()}`, '--timeout', '2'], {});
    expect(r.code).toBe(EXIT.unreachable);
  });

  it('fails for a server that answers but is not a controller', async () => {
    const other = createServer((_req, res) => res.writeHead(404).end('nothing here'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const r = await cli(['reachable', '--controller', `http://127.0.0.1:${(other.address() as AddressInfo).port}`]);
      expect(r.code).toBe(EXIT.failed);
      expect(r.err.join('\n')).toContain('refused GET /healthz: 404');
    } finally {
      await new Promise((r) => other.close(r));
    }
  });
});

describe('vm-controller usage', () => {
  it.each([
    [['create', '--name', 'x'], '--controller is required'],
    [['create', '--controller', 'ftp://host', '--name', 'x'], '--controller must be an http(s) URL'],
    [['create', '--controller', 'http://h'], '--name is required'],
    [['wait-online', '--controller', 'http://h', '--vm-id', 'a/b', '--timeout', '1'], '--vm-id must be'],
    [['wait-online', '--controller', 'http://h', '--vm-id', 'a', '--timeout', 'soon'], '--timeout must be seconds'],
    [['wait-online', '--controller', 'http://h', '--vm-id', 'a', '--timeout', '1', '--pid', '0'], '--pid must be'],
    [['delete', '--controller', 'http://h', '--name', 'x'], 'delete does not take --name'],
    [['delete', '--controller'], '--controller needs a value'],
    [['destroy'], 'unknown command: destroy'],
    [[], 'a COMMAND is required'],
  ])('%j exits 2 naming the problem: %s', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err.join('\n')).toContain(message);
  });

  it('needs the operator token from the environment for calls that take one', async () => {
    const r = await cli(['delete', '--controller', controller.url, '--vm-id', 'abc'], {});
    expect(r.code).toBe(EXIT.usage);
    expect(r.err.join('\n')).toContain('VMLIVE_OPERATOR_TOKEN is not set');
  });

  it('prints its usage with --help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out.join('\n')).toContain('usage: node rootfs/dist/vm-controller.js');
  });
});
