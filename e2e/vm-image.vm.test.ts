/**
 * The golden image end to end: build it (or reuse the cached build of the same
 * inputs), start a controller on the host, provision VMs from it with
 * rootfs/vm.sh, watch one through the controller from a host Chromium, and
 * check that destroy leaves nothing behind. Needs root (debootstrap, nspawn,
 * namespaces, tap) and the packages scripts/install-deps.sh installs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, routes, type VmSummary } from '@vmlive/protocol';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Controller, startController } from '../master-controller/src/server.js';
import { openRestViewer, type WebrtcStats } from './rest-viewer.js';
import { launchViewerBrowser, REPO_ROOT } from './system.js';

const BUILD = join(REPO_ROOT, 'rootfs/build.sh');
const VM = join(REPO_ROOT, 'rootfs/vm.sh');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command to completion; its stderr streams to ours so long builds show progress. */
function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (env.VMLIVE_TEST_ECHO) process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${cmd} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stderr.slice(-4000)}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

function readMeta(stateDir: string, name: string): Record<string, string> {
  const text = readFileSync(join(stateDir, name, 'vm.meta'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose root directory or command line mentions `path`. */
function processesUsing(path: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const root = readlinkSync(`/proc/${entry}/root`);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (root.startsWith(path) || cmdline.includes(path)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function shell(cmd: string): Promise<string> {
  return (await run('/bin/sh', ['-c', cmd], {}, 10_000)).stdout;
}

/** Everything destroy must have removed, as evidence: empty lists mean clean. */
async function leftovers(stateDir: string, name: string, meta: Record<string, string>) {
  const netns = (await shell('ip netns list')).split('\n').filter((l) => l.split(' ')[0] === `vmlive-${meta.INDEX}`);
  const links = (await shell(`ip -o link show ${meta.HOST_IF} 2>/dev/null`)).trim();
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(join(stateDir, name)));
  return {
    processes: processesUsing(join(stateDir, name)),
    netns,
    links: links ? [links] : [],
    mounts,
    stateDirExists: existsSync(join(stateDir, name)),
    // The shared forwarding table goes with the host's last VM.
    firewallTable: (await run('nft', ['list', 'table', 'ip', 'vmlive'], {}, 10_000)).code === 0,
  };
}

const CLEAN = { processes: [], netns: [], links: [], mounts: [], stateDirExists: false, firewallTable: false };

describe('golden VM image', () => {
  let controller: Controller;
  let controllerUrl: string;
  let stateDir: string;
  let image: string;
  let browser: Browser | undefined;

  const operator = () => new ApiClient({ baseUrl: controllerUrl, token: controller.operatorToken });

  async function listVms(): Promise<VmSummary[]> {
    return (await operator().call(routes.listVms, {})).vms;
  }

  /** A host Chromium viewer, through the controller, until it decoded `frames` frames. */
  async function watch(vmId: string, frames: number, timeoutMs: number): Promise<WebrtcStats> {
    const { token } = await operator().call(routes.createViewerToken, {
      params: { vmId },
      body: { role: 'view', ttlSeconds: 600 },
    });
    browser ??= await launchViewerBrowser();
    const t0 = performance.now();
    const viewer = await openRestViewer(browser, { controllerUrl, vmId, token });
    try {
      const stats = await viewer.waitFrames(frames, timeoutMs);
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      process.stderr.write(`[vm-image] viewer decoded ${stats.framesDecoded} frames in ${seconds} s\n`);
      return stats;
    } finally {
      await viewer.close();
    }
  }

  function vm(args: string[], timeoutMs = 120_000): Promise<Run> {
    return run(VM, args, { VMLIVE_STATE_DIR: stateDir }, timeoutMs);
  }

  /** Provisions VM `name` against the test controller, creating it there with the operator token. */
  function provision(name: string, extra: string[], timeoutMs?: number): Promise<Run> {
    const args = ['provision', name, '--controller', controllerUrl, '--operator-token', controller.operatorToken];
    return vm([...args, ...extra], timeoutMs);
  }

  /** Destroys the VMs (and their controller entries) and checks that nothing of any of them is left. */
  async function destroyLeavingNothing(names: string[]): Promise<void> {
    const vms = names
      .filter((n) => existsSync(join(stateDir, n, 'vm.meta')))
      .map((n) => ({
        name: n,
        meta: readMeta(stateDir, n),
        pid: Number(readFileSync(join(stateDir, n, 'pid'), 'utf8')),
      }));
    const destroyed = await vm([
      'destroy',
      ...names,
      '--delete-from-controller',
      '--operator-token',
      controller.operatorToken,
    ]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    for (const v of vms) {
      expect(pidAlive(v.pid), v.name).toBe(false);
      expect(await leftovers(stateDir, v.name, v.meta)).toEqual(CLEAN);
    }
  }

  beforeAll(async () => {
    expect(process.getuid?.(), 'the VM image tests need root (debootstrap, nspawn, netns, tap)').toBe(0);
    const build = await run(BUILD, [], { VMLIVE_TEST_ECHO: '1' }, 25 * 60_000);
    expect(build.code, build.stderr.slice(-4000)).toBe(0);
    image = build.stdout.trim().split('\n').at(-1) ?? '';
    process.stderr.write(`[vm-image] build.sh finished in ${build.seconds.toFixed(1)} s: ${image}\n`);
    const manifest = JSON.parse(readFileSync(join(image, 'manifest.json'), 'utf8')) as {
      packages: Record<string, string>;
      node: { version: string };
    };
    // The manifest records what the build installed, not just what it asked for.
    expect(manifest.packages.chromium).toMatch(/\d/);
    expect(manifest.packages['gstreamer1.0-nice']).toMatch(/\d/);
    expect(manifest.node.version).toMatch(/^20\./);
    for (const f of ['disk.ext4', 'vmlinuz', 'initrd.img', 'rootfs/opt/vmlive/agent/main.mjs']) {
      expect(existsSync(join(image, f)), f).toBe(true);
    }
    expect(readFileSync(join(image, 'rootfs/etc/machine-id'), 'utf8')).toBe('');
    expect(existsSync(join(image, 'rootfs/etc/vmlive/vm.env')), 'no VM identity in the golden image').toBe(false);

    stateDir = mkdtempSync(join(tmpdir(), 'vmlive-vms-'));
    // The VMs reach the controller over their link to the host, so it listens on every address.
    controller = await startController({ host: '0.0.0.0', port: 0, logLevel: 'warn' });
    controllerUrl = `http://127.0.0.1:${new URL(controller.url).port}`;
  }, 30 * 60_000);

  afterAll(async () => {
    await browser?.close();
    if (stateDir) {
      await vm(['destroy', '--all']).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    }
    await controller?.close();
  }, 120_000);

  it('documents every command with --help, and refuses to run without root', async () => {
    const help = await run(BUILD, ['--help'], {}, 10_000);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: rootfs/build.sh');
    const vmHelp = await vm(['--help']);
    expect(vmHelp.code).toBe(0);
    expect(vmHelp.stdout).toMatch(/rootfs\/vm\.sh provision NAME.*\n.*rootfs\/vm\.sh list.*\n.*destroy/);
    const asNobody = await run(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        VM,
        'provision',
        'x',
        '--controller',
        controllerUrl,
        '--operator-token',
        't',
      ],
      { VMLIVE_STATE_DIR: stateDir },
      10_000,
    );
    expect(asNobody.code).toBe(1);
    expect(asNobody.stderr).toContain('must run as root');
  });

  it('a build that fails leaves no partial stage and no chroot mounts, and shows why', async () => {
    const out = mkdtempSync(join(tmpdir(), 'vmlive-build-'));
    try {
      // Nothing listens on port 9: debootstrap fails at its first download.
      const r = await run(BUILD, ['--out', out, '--mirror', 'http://127.0.0.1:9/debian'], {}, 120_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('last lines of');
      expect(r.stderr).toContain('nothing partial was kept');
      expect(readdirSync(join(out, 'cache')).filter((f) => f.endsWith('.partial'))).toEqual([]);
      expect(readdirSync(join(out, 'images'))).toEqual([]);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(out);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('rejects bad provision arguments with exit 2, naming the option, and creates nothing', async () => {
    const r = await vm(['provision', 'bad', '--runtime', 'xen', '--controller', controllerUrl]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--runtime');
    const noName = await vm(['provision', 'Bad_Name', '--controller', controllerUrl, '--operator-token', 'x']);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('NAME');
    expect(existsSync(join(stateDir, 'bad'))).toBe(false);
    expect(await listVms()).toEqual([]);
  });

  it('undoes a provision that fails: controller unreachable from the VM', async () => {
    // A controller that listens on loopback only cannot be reached over the VM's link.
    const loopbackOnly = await startController({ host: '127.0.0.1', port: 0, logLevel: 'warn' });
    try {
      const r = await vm([
        'provision',
        'unreachable',
        '--controller',
        loopbackOnly.url,
        '--operator-token',
        loopbackOnly.operatorToken,
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('cannot reach the controller');
      expect(existsSync(join(stateDir, 'unreachable'))).toBe(false);
      expect(await shell('ip netns list')).not.toMatch(/^vmlive-/m);
      expect(await shell('ip -o link show')).not.toMatch(/: vmlive\d+[@:]/);
    } finally {
      await loopbackOnly.close();
    }
  });

  it('a container VM comes online within 20 s, streams 1280x720 to a host viewer, and destroy leaves nothing', async () => {
    const t0 = performance.now();
    const provisioned = await provision('e2e-ct', ['--wait', '20'], 60_000);
    expect(provisioned.code, provisioned.stderr).toBe(0);
    const [name, vmId] = provisioned.stdout.trim().split('\t');
    expect(name).toBe('e2e-ct');
    const listed = (await listVms()).find((v) => v.vmId === vmId);
    const onlineSeconds = (performance.now() - t0) / 1000;
    expect(listed?.online).toBe(true);
    expect(onlineSeconds).toBeLessThan(20);
    process.stderr.write(`[vm-image] container VM online ${onlineSeconds.toFixed(1)} s after provision started\n`);

    const list = await vm(['list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ name: 'e2e-ct', runtime: 'container', state: 'running', vmId }),
    ]);

    const stats = await watch(vmId ?? '', 60, 60_000);
    expect(stats.frameWidth).toBe(1280);
    expect(stats.frameHeight).toBe(720);

    // The automation's entry is the VM agent's CDP gateway inside the VM (127.0.0.1:9223), showing the
    // start page; the browser's own DevTools port refuses everyone but the VM agent (root included),
    // and nothing listens on the VM's link address.
    const meta = readMeta(stateDir, 'e2e-ct');
    const inVm = (url: string, extra: string[] = []) =>
      run('ip', ['netns', 'exec', `vmlive-${meta.INDEX}`, 'curl', '-sS', ...extra, url], {}, 60_000);
    const pages = await inVm('http://127.0.0.1:9223/json/list', [
      '--retry',
      '20',
      '--retry-connrefused',
      '--retry-delay',
      '1',
    ]);
    expect(pages.code, pages.stderr).toBe(0);
    expect(pages.stdout).toContain('file:///opt/vmlive/pages/demo.html');
    expect(pages.stdout).toContain('ws://127.0.0.1:9223/devtools/page/');
    const direct = await inVm('http://127.0.0.1:9222/json/version', ['--max-time', '3']);
    expect(direct.code, direct.stdout).toBe(7); // refused by the DevTools guard (tcp reset)
    for (const port of [9222, 9223]) {
      const fromHost = await run(
        'curl',
        ['-sS', '--max-time', '3', `http://${meta.GUEST_ADDR}:${port}/json/version`],
        {},
        10_000,
      );
      expect(fromHost.code).toBe(7); // connection refused: nothing listens on the VM's link address
    }

    const pid = Number(readFileSync(join(stateDir, 'e2e-ct/pid'), 'utf8'));
    expect(pidAlive(pid)).toBe(true);
    const before = await leftovers(stateDir, 'e2e-ct', meta);
    expect(before.netns).toHaveLength(1);
    expect(before.mounts.length).toBeGreaterThan(0);

    await destroyLeavingNothing(['e2e-ct']);
    expect((await listVms()).map((v) => v.vmId)).not.toContain(vmId);
  }, 180_000);

  it('container VMs reach other networks through the host, never each other; --no-nat ones reach only the host', async () => {
    // "Elsewhere": a network namespace behind its own link from the host, with an HTTP server that answers with the
    // address it saw, so masquerading shows.
    await shell('ip netns add vmlt-elsewhere && ip link add vmlt-else0 type veth peer name eth0 netns vmlt-elsewhere');
    await shell('ip addr add 198.51.100.1/30 dev vmlt-else0 && ip link set vmlt-else0 up');
    await shell('ip -n vmlt-elsewhere link set eth0 up && ip -n vmlt-elsewhere addr add 198.51.100.2/30 dev eth0');
    const server = spawn('ip', [
      'netns',
      'exec',
      'vmlt-elsewhere',
      process.execPath,
      '-e',
      "require('node:http').createServer((q, r) => r.end(q.socket.remoteAddress)).listen(8099, '198.51.100.2')",
    ]);
    const names = ['e2e-nat', 'e2e-nonat'];
    try {
      const nat = await provision('e2e-nat', ['--wait', '0']);
      expect(nat.code, nat.stderr).toBe(0);
      const noNat = await provision('e2e-nonat', ['--no-nat', '--wait', '0']);
      expect(noNat.code, noNat.stderr).toBe(0);
      const [a, b] = names.map((n) => readMeta(stateDir, n));
      const fetchFrom = (m: Record<string, string> | undefined, url: string) =>
        run('ip', ['netns', 'exec', `vmlive-${m?.INDEX}`, 'curl', '-sS', '--max-time', '3', url], {}, 10_000);

      const seen = await fetchFrom(a, 'http://198.51.100.2:8099/');
      expect(seen.code, seen.stderr).toBe(0);
      expect(seen.stdout).toBe('198.51.100.1'); // the host's address on that link: masqueraded
      expect((await fetchFrom(b, 'http://198.51.100.2:8099/')).code).not.toBe(0);
      // Both still reach the controller on their host end.
      expect((await fetchFrom(b, `http://${b?.HOST_ADDR}:${new URL(controllerUrl).port}/healthz`)).stdout).toContain(
        'ok',
      );
      // Not each other: A to B's address, where nothing answers only if the packet was dropped on the way
      // (a reset would come back at once: curl exit 7; a drop times out: exit 28).
      const across = await fetchFrom(a, `http://${b?.GUEST_ADDR}:9/`);
      expect(across.code).toBe(28);
      const resolv = readFileSync(join(stateDir, 'e2e-nat/root/etc/resolv.conf'), 'utf8');
      expect(resolv).not.toContain('127.0.0.');
    } finally {
      server.kill();
      await shell('ip netns delete vmlt-elsewhere; ip link delete vmlt-else0');
      await destroyLeavingNothing(names);
    }
  }, 180_000);

  it('a QEMU VM boots the same image with its agent active and registered', async () => {
    const t0 = performance.now();
    const provisioned = await provision('e2e-qemu', ['--runtime', 'qemu', '--wait', '420'], 480_000);
    expect(provisioned.code, `${provisioned.stderr}\n${readConsole(stateDir, 'e2e-qemu')}`).toBe(0);
    const vmId = provisioned.stdout.trim().split('\t')[1];
    const onlineSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(
      `[vm-image] QEMU VM (${readMeta(stateDir, 'e2e-qemu').ACCEL}) online in ${onlineSeconds.toFixed(1)} s\n`,
    );
    expect((await listVms()).find((v) => v.vmId === vmId)?.online).toBe(true);
    // systemd reports each unit on the serial console.
    expect(readConsole(stateDir, 'e2e-qemu')).toMatch(/Started .*vmlive-agent\.service/);
    // Not required under TCG, but it works: emulated, the VM still streams (about 4 fps here).
    const stats = await watch(vmId ?? '', 30, 180_000);
    expect(stats.frameWidth).toBe(1280);

    await destroyLeavingNothing(['e2e-qemu']);
  }, 720_000);
});

function readConsole(stateDir: string, name: string): string {
  try {
    return readFileSync(join(stateDir, name, 'console.log'), 'utf8');
  } catch {
    return '';
  }
}
