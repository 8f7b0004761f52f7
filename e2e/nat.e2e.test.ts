/**
 * Issue 15, through NAT: the VM (its agent and GStreamer helper) behind one
 * NAT, the viewer (headless Chromium) behind another, the controller and a
 * real coturn on a "public" segment between them, no route between the two
 * private sides (e2e/netbed/nat.ts). The fallback chain, one firewall at a
 * time on the viewer's side: TURN/UDP, then TURN/TCP with UDP dropped, then
 * TURN/TLS (a certificate this test makes) with only TLS let through, then
 * nothing to coturn at all: screenshots, and the viewer says why. Then the viewer's
 * network changes mid-stream (its router's public address moves): ICE restarts on
 * the same session and video comes back within 5 s. coturn runs
 * the shipped config unchanged but for its addresses, ports and secret.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintTurnCredential } from '../master-controller/src/ice/turn-credentials.js';
// Brings the documented `window.__vmlive` type into the page.evaluate callbacks.
import type {} from '../viewer/src/debug/debugHooks.js';
import { freePort } from '../vm-browser-agent/src/sandbox/free-port.js';
import { type LocalSystem, startLocalSystem } from '../vm-browser-agent/src/sandbox/local-system.js';
import { type Coturn, makeTestCertificate, startCoturn, turnClient } from './coturn.js';
import { launchBrowserInNamespace } from './netbed/browser.js';
import { type Forwarder, forwardTcp } from './netbed/forward.js';
import {
  CONTROLLER_ADDRESS,
  type NatBed,
  openNatBed,
  TURN_ADDRESS,
  VIEWER_MOVED_ADDRESS,
  VIEWER_SIDE,
  VM_SIDE,
} from './netbed/nat.js';
import { netbedUnavailable } from './netbed/netbed.js';
import { openRestViewer, type WebrtcStats } from './rest-viewer.js';

const unavailable = netbedUnavailable();

describe.skipIf(unavailable !== null)('a VM and a viewer behind two NATs, through coturn', () => {
  let bed: NatBed;
  let certDir: string;
  let turn: Coturn;
  let forward: Forwarder;
  let sys: LocalSystem;
  let browser: Browser;
  let closeBrowser = () => {};

  beforeAll(async () => {
    bed = await openNatBed();
    certDir = mkdtempSync(join(tmpdir(), 'vmlive-turn-cert-'));
    turn = await startCoturn({ address: TURN_ADDRESS, tls: makeTestCertificate(certDir, TURN_ADDRESS) });
    // The controller listens on loopback; both sides reach it at its public address.
    const port = await freePort();
    forward = await forwardTcp(CONTROLLER_ADDRESS, `http://127.0.0.1:${port}`);
    sys = await startLocalSystem({
      port,
      logDir: mkdtempSync(join(tmpdir(), 'vmlive-e2e-logs-')),
      logLevel: 'debug',
      controllerEnv: {
        VMLIVE_TURN_URLS: turn.urls.join(','),
        VMLIVE_TURN_SECRET: turn.secret,
        VMLIVE_TURN_TTL_S: '600',
      },
      vmNetns: { name: VM_SIDE.ns, controllerUrl: forward.url },
    });
    // Chromium checks a turns: server's certificate like any TLS peer's; this one is self-signed.
    const launched = await launchBrowserInNamespace(VIEWER_SIDE.ns, ['--ignore-certificate-errors']);
    browser = launched.browser;
    closeBrowser = launched.cleanup;
  }, 150_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    closeBrowser();
    await sys?.stop();
    await forward?.close();
    await turn?.stop();
    bed?.close();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const streamThroughRelay = async (): Promise<WebrtcStats> => {
    const v = await openRestViewer(browser, {
      controllerUrl: forward.url,
      vmId: sys.vmId,
      token: await sys.mintViewerToken('view'),
    });
    try {
      const st = await v.waitFrames(60, 40_000);
      expect(`${st.frameWidth}x${st.frameHeight}`).toBe('1280x720');
      // Through coturn: the viewer's own allocation, or (over UDP, where the viewer's NAT lets
      // the VM's relay answer it) the VM's, with the viewer's NAT address as a prflx candidate.
      expect([st.localCandidateType, st.remoteCandidateType]).toContain('relay');
      // coturn allocated for this very session (its username is "<expiry>:<sessionId>").
      expect(turn.log()).toContain(`:${v.sessionId}`);
      return st;
    } finally {
      await v.close();
    }
  };

  it('decodes 1280x720 through the relay over UDP when nothing is blocked', async () => {
    await bed.firewall('open');
    const st = await streamThroughRelay();
    expect(st.candidateProtocol).toBe('udp');
  }, 60_000);

  it('falls back to TURN over TCP when the viewer side drops all UDP', async () => {
    await bed.firewall('no-udp');
    const st = await streamThroughRelay();
    expect(st.localCandidateType).toBe('relay');
    expect(st.relayProtocol).toBe('tcp');
  }, 60_000);

  it('falls back to TURN over TLS when only the TLS port to coturn is let through', async () => {
    await bed.firewall('tls-only', turn.tlsPort ?? 0);
    const st = await streamThroughRelay();
    expect(st.localCandidateType).toBe('relay');
    expect(st.relayProtocol).toBe('tls');
  }, 60_000);

  it('shows screenshots and says the TURN server is unreachable when everything to coturn is dropped', async () => {
    await bed.firewall('no-turn');
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      const token = await sys.mintViewerToken('view');
      await page.goto(`${forward.url}/view?vm=${encodeURIComponent(sys.vmId)}#token=${token}`);
      await expect
        .poll(() => page.evaluate(() => window.__vmlive?.display?.kind ?? null), { timeout: 60_000 })
        .toBe('screenshots');
      await expect
        .poll(() => page.locator('.vm-status').textContent(), { timeout: 60_000, interval: 500 })
        .toContain('No route: TURN server unreachable');
      // Screenshots keep coming over the controller, which the firewall leaves alone.
      await expect.poll(() => page.locator('img').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    } finally {
      await page.close();
      await bed.firewall('open');
    }
  }, 90_000);

  it("restarts ICE on the same session when the viewer's network changes mid-stream: video back within 5 s", async () => {
    await bed.firewall('open');
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Fresh from the peer connection (the hooks' summary is a second old): decoded frames now.
    const frames = () =>
      page.evaluate(async () => {
        const raw = (await window.__vmlive?.getRawStats()) ?? [];
        const inbound = raw.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
        return typeof inbound?.framesDecoded === 'number' ? inbound.framesDecoded : 0;
      });
    try {
      const token = await sys.mintViewerToken('view');
      await page.goto(`${forward.url}/view?vm=${encodeURIComponent(sys.vmId)}#token=${token}`);
      await expect.poll(frames, { timeout: 40_000, interval: 250 }).toBeGreaterThan(60);
      const sessionId = await page.evaluate(() => window.__vmlive?.sessionId ?? null);
      expect(sessionId).toBeTruthy();

      const movedAt = Date.now();
      await bed.moveViewer(true);
      // The old flows are gone with the old address: frames stop, then the viewer restarts ICE.
      let stalled = await frames();
      let resumedAt = 0;
      while (Date.now() - movedAt < 15_000) {
        await new Promise((r) => setTimeout(r, 100));
        const now = await frames();
        const restarted = await page.evaluate(() => (window.__vmlive?.iceRestarts ?? []).length > 0);
        if (!restarted) stalled = now;
        else if (now > stalled + 5) {
          resumedAt = Date.now();
          break;
        }
      }
      const recoveryMs = resumedAt ? resumedAt - movedAt : null;
      const restarts = await page.evaluate(() => window.__vmlive?.iceRestarts ?? []);
      const started = restarts.find((r) => r.phase === 'started');
      console.log(
        `ICE restart recovery: ${recoveryMs ?? 'none'} ms from the network change to frames again ` +
          `(restart started at +${started ? started.at - movedAt : '?'} ms, cause ${started?.cause ?? '?'})`,
      );
      expect(recoveryMs, JSON.stringify(restarts)).not.toBeNull();
      expect(recoveryMs).toBeLessThan(5000);
      // A restart on the same session, not a new session: the id never changed, no reconnect happened.
      await expect
        .poll(() => page.evaluate(() => (window.__vmlive?.iceRestarts ?? []).map((r) => r.phase)), { timeout: 5000 })
        .toContain('done');
      expect(await page.evaluate(() => window.__vmlive?.sessionId)).toBe(sessionId);
      expect(
        (await page.evaluate(() => window.__vmlive?.iceRestarts ?? [])).every((r) => r.sessionId === sessionId),
      ).toBe(true);
      const history = await page.evaluate(() => window.__vmlive?.history ?? []);
      const since = history.filter((h) => h.at >= movedAt);
      expect(
        since.map((h) => h.phase),
        JSON.stringify(history),
      ).not.toContain('reconnecting');
      // The viewer's new address reached coturn: its new allocation came from there.
      expect(turn.log()).toContain(VIEWER_MOVED_ADDRESS);
    } finally {
      await page.close();
      await bed.moveViewer(false);
    }
  }, 90_000);

  it('refuses to relay a viewer to loopback, to the VM network or to its own private network', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    for (const peer of ['127.0.0.1', VM_SIDE.address, VIEWER_SIDE.address]) {
      const cred = mintTurnCredential(turn.secret, `probe-${peer}`, nowS + 600);
      const out = await turnClient({
        netns: VIEWER_SIDE.ns,
        host: TURN_ADDRESS,
        port: turn.port,
        username: cred.username,
        password: cred.credential,
        peer,
        peerPort: 9,
      });
      expect(out, peer).toContain('403 (Forbidden IP)');
      expect(out, peer).not.toMatch(/tot_recv_msgs=[1-9]/);
    }
  }, 60_000);
});
