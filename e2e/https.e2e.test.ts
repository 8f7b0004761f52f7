/**
 * The whole system over HTTPS with a private CA made here by openssl: the
 * controller serves TLS (VMLIVE_TLS_CERT_FILE/KEY_FILE), the VM agent reaches
 * it at https:// trusting that CA (VMLIVE_CA_FILE + NODE_EXTRA_CA_CERTS), and a
 * headless Chromium viewer on https://…/view decodes 1280x720 video. Then the
 * certificate is swapped and the controller sent SIGHUP while a long-poll is in
 * flight: the long-poll is answered on its old connection, the video keeps
 * decoding, and a new connection gets the new certificate.
 *
 * Chromium trusts the test certificates through --ignore-certificate-errors-spki-list
 * with the SPKI hashes of exactly the three test keys (two controller certificates, nginx's): every other certificate is
 * verified as usual (not a blanket --ignore-certificate-errors), and it needs no
 * NSS database tool (libnss3-tools) on the machine. It pins keys, not the CA:
 * what it proves is that the browser speaks TLS to the controller and keeps
 * working across the reload; the CA chain itself is verified by the agent and
 * by nginx (proxy_ssl_verify) and by this process (node:https with `ca`), and a client without the CA is refused.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpsAnswer, httpsRequest } from '../master-controller/src/test/https-request.js';
import { makeTestCa, type TestCa } from '../master-controller/src/test/test-ca.js';
import { freePort } from '../vm-browser-agent/src/sandbox/free-port.js';
import { REPO_ROOT } from '../vm-browser-agent/src/sandbox/local-system.js';
import { type LocalSystem, launchViewerBrowser, startSystem } from './system.js';
import { framesDecoded, openViewer, waitLive } from './viewer-page.js';

let ca: TestCa;
let sys: LocalSystem;
let browser: Browser;
const started = Date.now();

interface GetOptions {
  ca?: Buffer;
  base?: string;
  localAddress?: string;
  headers?: Record<string, string>;
}

function get(path: string, token: string, opts: GetOptions = {}): Promise<HttpsAnswer> {
  const { base = sys.controllerUrl, headers = {}, ...tls } = opts;
  return httpsRequest(`${base}${path}`, { ...tls, headers: { authorization: `Bearer ${token}`, ...headers } });
}

beforeAll(async () => {
  ca = makeTestCa();
  ca.leaf('first');
  ca.leaf('second');
  ca.leaf('proxy');
  const live = ca.install('first', 'live');
  [sys, browser] = await Promise.all([
    startSystem({
      // nginx connects from 127.0.0.2 (proxy_bind), so only it is trusted for X-Forwarded-For;
      // this process's own direct requests come from 127.0.0.1.
      controllerEnv: {
        VMLIVE_TLS_CERT_FILE: live.cert,
        VMLIVE_TLS_KEY_FILE: live.key,
        VMLIVE_TRUST_PROXY: '127.0.0.2',
      },
      caFile: ca.caFile,
    }),
    launchViewerBrowser([
      `--ignore-certificate-errors-spki-list=${ca.spki('first')},${ca.spki('second')},${ca.spki('proxy')}`,
    ]),
  ]);
}, 90_000);

afterAll(async () => {
  await nginx?.stop();
  await browser?.close();
  await sys?.stop();
  ca?.remove();
  console.log(`https e2e: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
});

describe('vmlive over HTTPS with a private CA', () => {
  it('the agent came online over https://; a client without the CA is refused', async () => {
    expect(sys.controllerUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const vms = JSON.parse((await get('/api/vms', sys.operatorToken, { ca: ca.caPem })).body) as {
      vms: Array<{ vmId: string; online: boolean }>;
    };
    expect(vms.vms.find((v) => v.vmId === sys.vmId)?.online).toBe(true);
    await expect(get('/api/vms', sys.operatorToken)).rejects.toThrow(/certificate/);
  });

  it('a viewer on https://…/view decodes 1280x720; a certificate reload keeps a long-poll, the video and serves new connections the new certificate', async () => {
    const page = await openViewer(browser, sys, 'view');
    await waitLive(page, sys);
    const size = await page.evaluate(() => {
      const v = document.querySelector('video');
      return [v?.videoWidth, v?.videoHeight];
    });
    expect(size).toEqual([1280, 720]);

    const inFlight = get(`/api/vms/${sys.vmId}/sessions?wait=3`, sys.vmToken, { ca: ca.caPem });
    await new Promise((r) => setTimeout(r, 300));
    ca.install('second', 'live');
    const controllerPid = sys.pids().controller;
    if (controllerPid === undefined) throw new Error('no controller pid');
    process.kill(controllerPid, 'SIGHUP');
    await expect.poll(async () => (await get('/healthz', sys.operatorToken, { ca: ca.caPem })).cn).toBe('second');

    const polled = await inFlight;
    expect(polled.status).toBe(200);
    expect(polled.cn).toBe('first');
    expect(JSON.parse(polled.body)).toHaveProperty('sessions');

    const before = await framesDecoded(page);
    await expect.poll(() => framesDecoded(page), { timeout: 10_000 }).toBeGreaterThan(before + 30);

    // A new browser connection: the controller now presents the second certificate.
    const fresh = await browser.newContext();
    const res = await (await fresh.newPage()).goto(`${sys.controllerUrl}/healthz`);
    expect(res?.status()).toBe(200);
    expect((await res?.securityDetails())?.subjectName).toBe('second');
    await fresh.close();
  });
});

/** Our own nginx (never the system one) running deploy/nginx/vmlive.conf on a free port. */
interface Nginx {
  url: string;
  reload(): void;
  stop(): Promise<void>;
}
let nginx: Nginx | undefined;

async function startNginx(): Promise<Nginx> {
  const dir = join(ca.dir, 'nginx');
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const upstream = new URL(sys.controllerUrl);
  const cert = ca.install('proxy', 'nginx');
  // The deployed file with this run's port, certificate and upstream; the controller here serves
  // TLS itself, so nginx verifies it with the test CA (the deployed file speaks http to loopback).
  const site = readFileSync(join(REPO_ROOT, 'deploy/nginx/vmlive.conf'), 'utf8')
    .replace(/^\s*listen \[::\]:443 ssl;\n/m, '')
    .replace(/listen 443 ssl;/, `listen 127.0.0.1:${port} ssl;`)
    .replace(/ssl_certificate .*;/, `ssl_certificate ${cert.cert};`)
    .replace(/ssl_certificate_key .*;/, `ssl_certificate_key ${cert.key};`)
    .replace(/server 127\.0\.0\.1:8080;/, `server 127.0.0.1:${upstream.port};`)
    .replace(
      /proxy_pass http:\/\/vmlive_controller;/,
      `proxy_pass https://vmlive_controller; proxy_ssl_verify on; proxy_ssl_trusted_certificate ${ca.caFile}; proxy_ssl_name localhost; proxy_bind 127.0.0.2;`,
    );
  expect(site).toContain(`listen 127.0.0.1:${port} ssl;`);
  expect(site).toContain('proxy_bind 127.0.0.2;');
  writeFileSync(join(dir, 'vmlive.conf'), site);
  const tmp = (name: string) => `${name}_temp_path ${join(dir, 'tmp', name)};`;
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} info;`,
      'worker_processes 1;',
      'events { worker_connections 256; }',
      `http { access_log ${join(dir, 'access.log')}; ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(tmp).join(' ')} include ${join(dir, 'vmlive.conf')}; }`,
      '',
    ].join('\n'),
  );
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf')];
  const child: ChildProcess = spawn('/usr/sbin/nginx', [...args, '-g', 'daemon off;'], { stdio: 'inherit' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => r(true)).on('error', () => r(false));
      s.on('connect', () => s.end());
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start; see ${dir}/error.log`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `https://127.0.0.1:${port}`,
    reload: () => execFileSync('/usr/sbin/nginx', [...args, '-s', 'reload']),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
    },
  };
}

/** The client address the controller logged for request `reqId` (its debug request line). */
function loggedAddress(reqId: string): string | undefined {
  for (const line of readFileSync(join(sys.logDir, 'controller.log'), 'utf8').split('\n')) {
    if (!line.includes(reqId)) continue;
    const rec = JSON.parse(line) as { reqId?: string; addr?: string; msg?: string };
    if (rec.reqId === reqId && rec.msg === 'request') return rec.addr;
  }
  return undefined;
}

describe('vmlive behind nginx (deploy/nginx/vmlive.conf)', () => {
  beforeAll(async () => {
    nginx = await startNginx();
  });

  it('a viewer through nginx decodes video', async () => {
    const direct = new URL(await sys.viewerUrl('view'));
    const page = await browser.newPage();
    await page.goto(`${nginx?.url}${direct.pathname}${direct.search}${direct.hash}`);
    await waitLive(page, sys);
    await page.close();
  });

  it('a long-poll through nginx survives an nginx reload', async () => {
    const inFlight = get(`/api/vms/${sys.vmId}/sessions?wait=3`, sys.vmToken, { ca: ca.caPem, base: nginx?.url });
    await new Promise((r) => setTimeout(r, 300));
    nginx?.reload();
    const polled = await inFlight;
    expect(polled.status).toBe(200);
    expect(polled.cn).toBe('proxy');
    expect(JSON.parse(polled.body)).toHaveProperty('sessions');
  });

  it('the controller takes the client address from X-Forwarded-For only from the trusted proxy', async () => {
    const forged = { 'x-forwarded-for': '203.0.113.7' };
    // Through nginx from 127.0.0.3: nginx appends the peer it saw; the forged hop left of it is not believed.
    await get('/healthz', sys.operatorToken, {
      ca: ca.caPem,
      base: nginx?.url,
      localAddress: '127.0.0.3',
      headers: { ...forged, 'x-request-id': 'viaproxy1' },
    });
    // Directly from 127.0.0.1, an untrusted peer: its X-Forwarded-For is ignored.
    await get('/healthz', sys.operatorToken, { ca: ca.caPem, headers: { ...forged, 'x-request-id': 'direct1' } });
    await expect.poll(() => loggedAddress('viaproxy1')).toBe('127.0.0.3');
    await expect.poll(() => loggedAddress('direct1')).toBe('127.0.0.1');
  });
});
