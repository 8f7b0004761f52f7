/**
 * A real controller (in-process, ephemeral port) with the VM agent's
 * WebRtcServer against it and in-process fake helpers: the REST choreography
 * of the agent, tested without GStreamer (the real helper is in the e2e suites).
 */
import type { FetchLike, HelperCommand } from '@vmlive/protocol';
import pino from 'pino';
import { type Controller, startController } from '../../../master-controller/src/server.js';
import { ControllerClient } from '../controller/controller-client.js';
import { HelperSupervisor } from '../helper-supervisor.js';
import { WebRtcServer } from '../webrtc-server.js';
import { FakeHelper, fakeHelperFactory } from './fake-helper.js';

export const silentLog = pino({ level: 'silent' });
const OPERATOR_TOKEN = 'op-secret-token';

/** Answers every offer with a fixed SDP and two candidates plus end-of-candidates. */
export class ScriptedHelper extends FakeHelper {
  /** Local candidates sent after the answer, before end-of-candidates. */
  candidateCount = 2;

  /** ICE restarts answered so far (each answer names its count: `a=ice-ufrag:restart<n>`). */
  private restarts = 0;

  override send(cmd: HelperCommand) {
    super.send(cmd);
    if (cmd.type !== 'remote-description' && cmd.type !== 'restart-ice') return;
    const peerId = cmd.peerId;
    // As the real helper: a restart answers with new credentials and the same candidates again.
    const ice = cmd.type === 'restart-ice' ? `a=ice-ufrag:restart${++this.restarts}\r\n` : '';
    setTimeout(() => {
      this.event({
        type: 'local-description',
        peerId,
        sdpType: 'answer',
        sdp: `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=${peerId}\r\n${ice}`,
      });
      for (let i = 1; i <= this.candidateCount; i++) {
        this.event({
          type: 'local-candidate',
          peerId,
          candidate: `candidate:${i} 1 UDP 1 127.0.0.1 ${4999 + i} typ host`,
          sdpMLineIndex: 0,
        });
      }
      this.event({ type: 'local-candidate', peerId, candidate: '', sdpMLineIndex: 0 });
      this.event({ type: 'peer-state', peerId, ice: 'connected', dtls: 'connected', connection: 'connected' });
    }, 5);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read many response shapes; each assertion checks what it reads
type Body = any;
export type Api = (
  method: string,
  path: string,
  body?: unknown,
  token?: string,
) => Promise<{ status: number; body: Body }>;

export interface AgentHarness<H extends FakeHelper> {
  controller: Controller;
  server: WebRtcServer;
  vmId: string;
  helpers: H[];
  vmToken: string;
  api: Api;
  viewerSession(role?: 'view' | 'control'): Promise<{ token: string; sessionId: string }>;
  stop(): Promise<void>;
}

export async function startAgentHarness<H extends FakeHelper>(opts: {
  makeHelper: () => H;
  longPollSeconds?: number;
  /** Wraps the agent's fetch (e.g. to count its requests). */
  agentFetch?: FetchLike;
  /** The VM agent's recording spool and the controller's recordings directory. */
  recordingSpoolDir?: string;
  recordingsDir?: string;
}): Promise<AgentHarness<H>> {
  const controller = await startController(
    // Rate limits off: these tests poll the controller in tight loops (the limits have tests of their own).
    {
      port: 0,
      host: '127.0.0.1',
      operatorToken: OPERATOR_TOKEN,
      webDir: null,
      rateLimits: false,
      ...(opts.recordingsDir ? { recordingsDir: opts.recordingsDir } : {}),
    },
    silentLog,
  );
  const api: Api = async (method, path, body, token = OPERATOR_TOKEN) => {
    const res = await fetch(controller.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: type.includes('json') && text ? JSON.parse(text) : text };
  };
  const vm = await api('POST', '/api/vms', { name: 'agent-test' });
  const vmId: string = vm.body.vmId;
  const factory = fakeHelperFactory(opts.makeHelper);
  const supervisor = new HelperSupervisor(factory.create, silentLog);
  const server = new WebRtcServer({
    client: new ControllerClient({
      baseUrl: controller.url,
      vmId,
      token: vm.body.vmToken,
      ...(opts.agentFetch ? { fetch: opts.agentFetch } : {}),
    }),
    supervisor,
    log: silentLog,
    iceServers: [],
    heartbeatMs: 200,
    longPollSeconds: opts.longPollSeconds ?? 2,
    ...(opts.recordingSpoolDir ? { recordingSpoolDir: opts.recordingSpoolDir } : {}),
  });
  await server.start();
  return {
    controller,
    server,
    vmId,
    vmToken: vm.body.vmToken as string,
    helpers: factory.made,
    api,
    async viewerSession(role = 'control') {
      const tok = await api('POST', `/api/vms/${vmId}/viewer-tokens`, { role, ttlSeconds: 600 });
      const s = await api('POST', '/api/webrtc/session', { vmId }, tok.body.token);
      if (s.status !== 201) throw new Error(`session: ${s.status}`);
      return { token: tok.body.token as string, sessionId: s.body.sessionId as string };
    },
    async stop() {
      await server.stop();
      await controller.close();
    },
  };
}

export async function until<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
