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
 * with the SPKI hashes of exactly the two test keys: every other certificate is
 * verified as usual (not a blanket --ignore-certificate-errors), and it needs no
 * NSS database tool (libnss3-tools) on the machine. It pins keys, not the CA:
 * what it proves is that the browser speaks TLS to the controller and keeps
 * working across the reload; the CA chain itself is verified by the agent and
 * by this process (node:https with `ca`), and a client without the CA is refused.
 */
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCa, type TestCa } from '../master-controller/src/test/test-ca.js';
import { type LocalSystem, launchViewerBrowser, startSystem } from './system.js';
import { framesDecoded, openViewer, waitLive } from './viewer-page.js';

let ca: TestCa;
let sys: LocalSystem;
let browser: Browser;
const started = Date.now();

interface Got {
  status: number;
  body: string;
  cn: string;
}

function get(path: string, token: string, opts: { ca?: Buffer } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${sys.controllerUrl}${path}`,
      { ...opts, headers: { authorization: `Bearer ${token}` }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), cn }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  ca = makeTestCa();
  ca.leaf('first');
  ca.leaf('second');
  const live = ca.install('first', 'live');
  [sys, browser] = await Promise.all([
    startSystem({
      controllerEnv: { VMLIVE_TLS_CERT_FILE: live.cert, VMLIVE_TLS_KEY_FILE: live.key },
      caFile: ca.caFile,
    }),
    launchViewerBrowser([`--ignore-certificate-errors-spki-list=${ca.spki('first')},${ca.spki('second')}`]),
  ]);
}, 90_000);

afterAll(async () => {
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
