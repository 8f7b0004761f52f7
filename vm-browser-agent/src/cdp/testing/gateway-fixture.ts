/**
 * What the gateway's e2e tests share: a headless Chromium, a local page with a
 * counter button (served over HTTP on loopback), and gateways in front of that
 * Chromium with a ControlCell the test flips.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ControlMode } from '@vmlive/protocol';
import pino from 'pino';
import { ControlCell } from '../control-view.js';
import { CDP_GATEWAY_DEFAULTS, CdpGateway, type CdpGatewayOptions } from '../gateway.js';
import { type HeadlessChromium, startHeadlessChromium } from './headless-chromium.js';
import { pageTargets, RawCdp } from './raw-cdp.js';

/** Every click on #b is recorded in window.clicks; window.log takes what evaluations push. */
export const COUNTER_PAGE = `<!doctype html><title>counter</title>
<button id="b" style="width:200px;height:80px">+1</button> <span id="n">0</span>
<script>
  window.clicks = []; window.log = [];
  document.getElementById('b').addEventListener('click', () => {
    window.clicks.push(performance.now());
    document.getElementById('n').textContent = String(window.clicks.length);
  });
</script>`;

export interface Fixture {
  chromium: HeadlessChromium;
  /** http://127.0.0.1:<port>/counter (add ?<tag> to tell pages apart) */
  pageUrl: string;
  control: ControlCell;
  setMode(mode: ControlMode, holder?: string | null): void;
  gateway(o?: Partial<CdpGatewayOptions>): Promise<{ gw: CdpGateway; url: string; wsBase: string }>;
  /** Chromium's own connection to the page whose URL contains `tag` (bypassing every gateway). */
  directPage(tag: string): Promise<RawCdp>;
  stop(): Promise<void>;
}

export const testLog = pino({ level: process.env.VMLIVE_TEST_LOG ?? 'silent' });

export async function startFixture(): Promise<Fixture> {
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/counter')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(COUNTER_PAGE);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/counter`;
  const chromium = await startHeadlessChromium();
  const control = new ControlCell();
  const gateways: CdpGateway[] = [];
  const directs: RawCdp[] = [];
  let since = 1;
  return {
    chromium,
    pageUrl,
    control,
    setMode(mode, holder = mode === 'agent' ? null : 'session-7') {
      control.set({ mode, holder, since: since++ });
    },
    async gateway(o = {}) {
      const gw = new CdpGateway({
        upstreamUrl: chromium.httpUrl,
        host: '127.0.0.1',
        port: 0,
        control,
        whileHeld: CDP_GATEWAY_DEFAULTS.whileHeld,
        holdMaxMs: 60_000,
        maxMessageBytes: CDP_GATEWAY_DEFAULTS.maxMessageBytes,
        log: testLog,
        ...o,
      });
      gateways.push(gw);
      const { url } = await gw.start();
      return { gw, url, wsBase: url.replace(/^http/, 'ws') };
    },
    async directPage(tag) {
      for (let i = 0; i < 100; i++) {
        const t = (await pageTargets(chromium.httpUrl)).find((p) => p.url.includes(tag));
        if (t) {
          const c = await RawCdp.connect(t.webSocketDebuggerUrl);
          directs.push(c);
          return c;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no page with ${tag} in its URL`);
    },
    async stop() {
      for (const d of directs) d.close();
      for (const g of gateways) await g.stop();
      await chromium.stop();
      await new Promise((r) => server.close(r));
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
