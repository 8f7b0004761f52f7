/**
 * The two non-vmlive senders of the comparison, on the same X display / the
 * same sandbox Chromium as vmlive:
 *  - x11vnc + websockify (noVNC's usual server side), behind a byte-counting proxy;
 *  - a CDP Page.startScreencast relay: JPEG frames → our WebSocket → viewer page.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../../vm-browser-agent/src/sandbox/free-port.js';
import { pageTargetUrl, RawCdp } from './cdp-raw.js';
import { requireBinary } from './chromium.js';
import { type CountingProxy, type RelayHub, startCountingProxy } from './server.js';

async function waitListening(port: number, ms: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise<void>((r) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      r();
    }, 2000);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
  });
}

export interface VncServer {
  /** ws:// URL the noVNC viewer connects to (through the counting proxy) */
  wsUrl: string;
  proxy: CountingProxy;
  pids: { x11vnc: number; websockify: number };
  stop(): Promise<void>;
}

export function checkVncPrerequisites(): void {
  requireBinary('/usr/bin/x11vnc', 'x11vnc');
  requireBinary('/usr/bin/websockify', 'websockify');
  requireBinary('/usr/share/novnc/core/rfb.js', 'novnc');
}

/**
 * x11vnc as a latency-minded operator runs it (issue 13's reference, the best-configured peer):
 *  -defer 0     send an update at once instead of batching changes for 20 ms (the default);
 *  -wait 5      poll the screen for changes every 5 ms instead of every 20 ms;
 *  -nonap       never back off to slower polling when the screen is idle;
 *  -nowait_bog  never slow down when the client seems to lag ("bogged down" heuristics);
 *  -noncache    no client-side pixel cache (its extra framebuffer rows only add bytes here);
 *  -nocursor    no cursor-shape pseudo-encoding updates (the capture has no cursor either).
 * The viewer pairs it with noVNC quality 6 / compression 2 (TUNED_NOVNC_OPTIONS).
 */
export const TUNED_X11VNC_ARGS = ['-defer', '0', '-wait', '5', '-nonap', '-nowait_bog', '-noncache', '-nocursor'];

/**
 * noVNC for latency: Tight JPEG quality 6 (of 0–9: text stays readable at a third of quality 9's
 * bytes) and zlib compression 2 (of 0–9: light, so neither side spends ms compressing).
 */
export const TUNED_NOVNC_OPTIONS = { qualityLevel: 6, compressionLevel: 2 };

/** x11vnc on `display` with its defaults (as a user would run it) or `extraX11vncArgs`, websockify, and a counting proxy. */
export async function startVnc(display: string, extraX11vncArgs: string[] = []): Promise<VncServer> {
  checkVncPrerequisites();
  const vncPort = await freePort();
  const x11vnc = spawn(
    '/usr/bin/x11vnc',
    [
      '-display',
      display,
      '-rfbport',
      String(vncPort),
      '-localhost',
      '-nopw',
      '-forever',
      '-shared',
      '-quiet',
      ...extraX11vncArgs,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  try {
    await waitListening(vncPort, 10_000, x11vnc, 'x11vnc');
  } catch (e) {
    await stopChild(x11vnc);
    throw e;
  }
  const wsPort = await freePort();
  const websockify = spawn('/usr/bin/websockify', [`127.0.0.1:${wsPort}`, `127.0.0.1:${vncPort}`], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  try {
    await waitListening(wsPort, 10_000, websockify, 'websockify');
  } catch (e) {
    await stopChild(websockify);
    await stopChild(x11vnc);
    throw e;
  }
  const proxy = await startCountingProxy(wsPort);
  return {
    wsUrl: `ws://127.0.0.1:${proxy.port}/websockify`,
    proxy,
    pids: { x11vnc: x11vnc.pid ?? 0, websockify: websockify.pid ?? 0 },
    stop: async () => {
      await proxy.close();
      await stopChild(websockify);
      await stopChild(x11vnc);
    },
  };
}

export interface ScreencastRelay {
  /** wall-clock ms when Page.startScreencast was sent */
  startedAt: number;
  frames: number;
  /** per frame: relay arrival − the frame's metadata.timestamp (Chromium's capture time), ms */
  relayDelaysMs: number[];
  stop(): Promise<void>;
}

/**
 * Relays the sandbox page's CDP screencast to every client of `hub`, over our
 * own CDP connection to the page target (see cdp-raw.ts). Frames are
 * acknowledged on arrival (Chromium sends the next only after the ack), which
 * is the fastest pacing a relay can ask for.
 */
export async function startScreencast(
  sandboxCdpUrl: string,
  hub: RelayHub,
  opts: { quality?: number; width?: number; height?: number } = {},
): Promise<ScreencastRelay> {
  const cdp = await RawCdp.connect(await pageTargetUrl(sandboxCdpUrl));
  const state = { startedAt: 0, frames: 0, relayDelaysMs: [] as number[] };
  cdp.on('Page.screencastFrame', (ev: { data: string; sessionId: number; metadata: { timestamp?: number } }) => {
    void cdp.send('Page.screencastFrameAck', { sessionId: ev.sessionId }).catch(() => {});
    state.frames++;
    if (ev.metadata.timestamp) state.relayDelaysMs.push(Date.now() - ev.metadata.timestamp * 1000);
    hub.send(Buffer.from(ev.data, 'base64'));
  });
  state.startedAt = Date.now();
  await cdp.send('Page.startScreencast', {
    format: 'jpeg',
    quality: opts.quality ?? 80,
    maxWidth: opts.width ?? 1280,
    maxHeight: opts.height ?? 720,
    everyNthFrame: 1,
  });
  return Object.assign(state, {
    stop: async () => {
      await cdp.send('Page.stopScreencast').catch(() => {});
      cdp.close();
    },
  });
}
