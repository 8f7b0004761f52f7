/**
 * Issue 15, TURN: a real coturn (Debian's) run from the config we ship, the
 * credentials the controller mints for each session (TURN REST scheme), and a
 * relay-only session end to end: the viewer (headless Chromium) and the VM's
 * helper (webrtcbin) both use relay candidates only, so every frame crosses
 * coturn. Loopback only.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient, CreateSessionResponse, routes, VmSessionsResponse } from '@vmlive/protocol';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintTurnCredential } from '../master-controller/src/ice/turn-credentials.js';
import { freePort } from '../vm-browser-agent/src/sandbox/free-port.js';
import { type Coturn, startCoturn, startEchoPeer, turnClient } from './coturn.js';
import { openRestViewer } from './rest-viewer.js';
import { type LocalSystem, launchViewerBrowser, startSystem } from './system.js';

const nowS = () => Math.floor(Date.now() / 1000);

describe('coturn with the config we ship', () => {
  let turn: Coturn;
  beforeAll(async () => {
    turn = await startCoturn();
  });
  afterAll(async () => {
    await turn?.stop();
  });

  it('refuses to relay to loopback, to private addresses (the controller, other VMs) and to link-local', async () => {
    for (const peer of ['127.0.0.1', '10.20.0.5', '172.16.3.4', '192.168.1.20', '169.254.169.254']) {
      // A subject per peer: coturn's user-quota (12 allocations per username) would refuse the later ones.
      const cred = mintTurnCredential(turn.secret, `session-${peer}`, nowS() + 600);
      const out = await turnClient({
        port: turn.port,
        username: cred.username,
        password: cred.credential,
        peer,
        peerPort: 9,
      });
      expect(out, peer).toContain('403 (Forbidden IP)');
      expect(out, peer).not.toMatch(/tot_recv_msgs=[1-9]/);
    }
  }, 90_000);
});

describe('TURN credentials against a real coturn', () => {
  let turn: Coturn;
  let peer: { stop(): void };
  let peerPort: number;
  beforeAll(async () => {
    // Both ends of the relay on 127.0.0.1: the one rule relaxed is the loopback one.
    turn = await startCoturn({ allowLoopbackPeers: true });
    peerPort = await freePort();
    peer = startEchoPeer(peerPort);
  });
  afterAll(async () => {
    peer?.stop();
    await turn?.stop();
  });

  it('relays with a credential the controller minted and refuses the same once expired or signed with another secret', async () => {
    const live = mintTurnCredential(turn.secret, 'session-b', nowS() + 600);
    // The scheme, spelled out independently: base64(HMAC-SHA1(secret, "expiry:subject")).
    expect(live.credential).toBe(createHmac('sha1', turn.secret).update(live.username).digest('base64'));
    const ok = await turnClient({
      port: turn.port,
      username: live.username,
      password: live.credential,
      peer: '127.0.0.1',
      peerPort,
    });
    expect(ok).toMatch(/tot_recv_msgs=[1-9]/);

    const expired = mintTurnCredential(turn.secret, 'session-b', nowS() - 1);
    const refused = await turnClient({
      port: turn.port,
      username: expired.username,
      password: expired.credential,
      peer: '127.0.0.1',
      peerPort,
    });
    expect(refused).toContain('Cannot complete Allocation');
    expect(refused).not.toMatch(/tot_recv_msgs=[1-9]/);

    const forged = mintTurnCredential('another-secret-0123456789', 'session-b', nowS() + 600);
    const wrong = await turnClient({
      port: turn.port,
      username: forged.username,
      password: forged.credential,
      peer: '127.0.0.1',
      peerPort,
    });
    expect(wrong).toContain('Cannot complete Allocation');
  }, 90_000);
});

describe('a relay-only session through coturn', () => {
  let turn: Coturn;
  let sys: LocalSystem;
  let browser: Browser;
  beforeAll(async () => {
    turn = await startCoturn({ allowLoopbackPeers: true });
    sys = await startSystem({
      controllerEnv: {
        VMLIVE_TURN_URLS: turn.urls.join(','),
        VMLIVE_TURN_SECRET: turn.secret,
        VMLIVE_TURN_TTL_S: '600',
        VMLIVE_ICE_TRANSPORT_POLICY: 'relay',
      },
    });
    browser = await launchViewerBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await sys?.stop();
    await turn?.stop();
  });

  it('hands both sides the same per-session credential, never the secret', async () => {
    // A VM of its own with no agent polling it, so the test reads the VM side's listing
    // before anything answers (or fails) the offer.
    const operator = new ApiClient({ baseUrl: sys.controllerUrl, token: sys.operatorToken });
    const vm = await operator.call(routes.createVm, { body: { name: 'turn-listing' } });
    const { token } = await operator.call(routes.createViewerToken, {
      params: { vmId: vm.vmId },
      body: { role: 'view', ttlSeconds: 300 },
    });
    const raw = await fetch(`${sys.controllerUrl}${routes.createSession.path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ vmId: vm.vmId }),
    });
    const text = await raw.text();
    expect(raw.status).toBe(201);
    expect(text).not.toContain(turn.secret);
    const created = CreateSessionResponse.parse(JSON.parse(text));
    expect(created.iceTransportPolicy).toBe('relay');
    const turnEntry = created.iceServers.find((s) => s.username !== undefined);
    expect(turnEntry?.urls).toEqual(turn.urls);
    const [expiry, subject] = (turnEntry?.username ?? '').split(':');
    expect(subject).toBe(created.sessionId);
    expect(Number(expiry)).toBeGreaterThan(nowS() + 590);
    expect(Number(expiry)).toBeLessThanOrEqual(nowS() + 601);

    // The VM side sees the offered session with the very same credential.
    await operator.withToken(token).call(routes.postOffer, {
      params: { id: created.sessionId },
      body: { type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n' },
    });
    const vmRes = await fetch(`${sys.controllerUrl}/api/vms/${vm.vmId}/sessions?state=offered&since=0`, {
      headers: { authorization: `Bearer ${vm.vmToken}` },
    });
    const vmText = await vmRes.text();
    expect(vmRes.status, vmText).toBe(200);
    expect(vmText).not.toContain(turn.secret);
    const offered = VmSessionsResponse.parse(JSON.parse(vmText)).sessions.find(
      (x) => x.sessionId === created.sessionId,
    );
    expect(offered?.iceTransportPolicy).toBe('relay');
    expect(offered?.iceServers).toEqual(created.iceServers);
    await operator.call(routes.deleteVm, { params: { vmId: vm.vmId } });
  });

  it('streams 1280x720 with relay candidates on both ends, and the logs never carry the secret', async () => {
    const v = await openRestViewer(browser, {
      controllerUrl: sys.controllerUrl,
      vmId: sys.vmId,
      token: await sys.mintViewerToken('view'),
    });
    try {
      const st = await v.waitFrames(60, 30_000);
      expect(`${st.frameWidth}x${st.frameHeight}`).toBe('1280x720');
      expect(st.localCandidateType).toBe('relay');
      expect(st.remoteCandidateType).toBe('relay');
      // coturn saw this session's allocation by its username.
      expect(turn.log()).toContain(`:${v.sessionId}`);
    } finally {
      await v.close();
    }
    for (const f of ['controller.log', 'agent.log']) {
      expect(readFileSync(join(sys.logDir, f), 'utf8'), f).not.toContain(turn.secret);
    }
  }, 90_000);
});
