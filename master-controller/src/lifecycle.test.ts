import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cand, forEachStore, sleep, storeConfig, TestController, timed } from './test/harness.js';

/** The suite's store as the main entry point reads it. */
function storeEnv(): Record<string, string> {
  const c = storeConfig();
  return { VMLIVE_STORE: c.store ?? 'memory', ...(c.storePrefix ? { VMLIVE_STORE_PREFIX: c.storePrefix } : {}) };
}

forEachStore(() => {
  const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

  describe('idle TTL and memory bounds', () => {
    let t: TestController | undefined;
    afterEach(() => t?.close());

    it('idle sessions expire, give control back, and leave no memory behind', async () => {
      t = await TestController.start({ sessionIdleTtlS: 2, holderGraceS: 1 });
      const s = await t.offeredSession('control');
      await t.call('POST', `/api/vms/${s.vmId}/control`, {
        token: s.viewer,
        body: { action: 'take', sessionId: s.sessionId },
      });
      await Promise.all(Array.from({ length: 50 }, () => t?.createSession(s.vmId, s.viewer)));
      expect(await t.metric('vmlive_sessions')).toBe(51);
      await sleep(2800);
      expect(await t.metric('vmlive_sessions')).toBe(0);
      const r = await t.call('GET', `/api/webrtc/session/${s.sessionId}/offer`, { token: s.vmToken });
      expect(r.status).toBe(404);
      const ctl = await t.call('GET', `/api/vms/${s.vmId}/control`, { token: s.vmToken });
      expect(ctl.body).toMatchObject({ mode: 'agent', holder: null });
    });

    it('activity on a session keeps it alive past the idle TTL', async () => {
      t = await TestController.start({ sessionIdleTtlS: 1 });
      const s = await t.offeredSession();
      for (let i = 0; i < 4; i++) {
        await sleep(400);
        const r = await t.call('GET', `/api/webrtc/session/${s.sessionId}/candidates/vm`, { token: s.viewer });
        expect(r.status).toBe(200);
      }
    });

    it("the VM agent's long-poll does not keep a session alive: it is answered with 404 when the session expires", async () => {
      t = await TestController.start({ sessionIdleTtlS: 1 });
      const s = await t.offeredSession();
      const [r, ms] = await timed(
        t.call('GET', `/api/webrtc/session/${s.sessionId}/candidates/browser?wait=5`, { token: s.vmToken }),
      );
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('session_not_found');
      expect(ms).toBeLessThan(2500);
    });

    it('an open viewer long-poll keeps its session alive past the idle TTL', async () => {
      t = await TestController.start({ sessionIdleTtlS: 1 });
      const s = await t.offeredSession();
      const [r, ms] = await timed(
        t.call('GET', `/api/webrtc/session/${s.sessionId}/candidates/vm?wait=2.5`, { token: s.viewer }),
      );
      expect(r.status).toBe(200);
      expect(ms).toBeGreaterThan(2400);
      expect((await t.call('GET', `/api/webrtc/session/${s.sessionId}/offer`, { token: s.viewer })).status).toBe(200);
    });

    it('refuses sessions beyond maxSessions with 429 too_many_sessions', async () => {
      t = await TestController.start({ maxSessions: 3 });
      const vm = await t.createVm();
      const viewer = await t.viewerToken(vm.vmId);
      for (let i = 0; i < 3; i++) await t.createSession(vm.vmId, viewer);
      const r = await t.call('POST', '/api/webrtc/session', { token: viewer, body: { vmId: vm.vmId } });
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('too_many_sessions');
      expect(await t.metric('vmlive_sessions')).toBe(3);
    });
  });

  describe('shutdown', () => {
    it('close() answers waiting long-polls at once with their empty answer, then refuses with 503', async () => {
      const t = await TestController.start();
      const s = await t.offeredSession();
      const polls = [
        timed(t.call('GET', `/api/webrtc/session/${s.sessionId}/candidates/vm?wait=20`, { token: s.viewer })),
        timed(t.call('GET', `/api/webrtc/session/${s.sessionId}/answer?wait=20`, { token: s.viewer })),
        timed(t.call('GET', `/api/vms/${s.vmId}/sessions?state=active&wait=20`, { token: s.vmToken })),
      ] as const;
      await waitForPolls(t, 3);
      const closing = t.close();
      const [cands, answer, sessions] = await Promise.all(polls);
      expect(cands[0].status).toBe(200);
      expect(cands[0].body).toEqual({ candidates: [], cursor: 0 });
      expect(answer[0].status).toBe(204);
      expect(sessions[0].status).toBe(200);
      for (const [, ms] of [cands, answer, sessions]) expect(ms).toBeLessThan(1000);
      await closing;
    });

    it('a request sent on an open connection during shutdown is refused (503) or cut off, never served', async () => {
      const t = await TestController.start({ shutdownGraceMs: 2000 });
      const s = await t.offeredSession();
      const { port } = new URL(t.url);
      const sock = connect(Number(port), '127.0.0.1');
      await once(sock, 'connect');
      let raw = '';
      sock.on('data', (d) => {
        raw += d;
      });
      sock.write(
        `GET /api/webrtc/session/${s.sessionId}/candidates/vm?wait=20 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.viewer}\r\n\r\n`,
      );
      await waitForPolls(t, 1);
      const closing = t.close();
      const body = JSON.stringify({ candidate: cand(1), sdpMLineIndex: 0, from: 'browser' });
      sock.write(
        `POST /api/webrtc/session/${s.sessionId}/candidate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.viewer}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      const closedByServer = await Promise.race([once(sock, 'close').then(() => true), sleep(3000).then(() => false)]);
      sock.destroy();
      await closing;
      const statuses = [...raw.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
      expect(statuses[0]).toBe(200);
      // Either our shutdown gate answered 503, or Node had already stopped reading the socket.
      expect(statuses.slice(1).every((x) => x === 503)).toBe(true);
      expect(raw).not.toContain('"seq"');
      expect(closedByServer).toBe(true);
    });
  });

  async function waitForPolls(t: TestController, n: number): Promise<void> {
    for (let i = 0; i < 100 && (await t.metric('vmlive_longpolls_waiting')) < n; i++) await sleep(20);
  }

  describe('the main entry point', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    });

    const run = (env: Record<string, string>) => {
      const c = spawn(process.execPath, ['--import', 'tsx', MAIN], {
        env: {
          ...process.env,
          PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          VMLIVE_WEB_DIR: '',
          ...storeEnv(),
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      let out = '';
      let err = '';
      c.stdout?.on('data', (d) => {
        out += d;
      });
      c.stderr?.on('data', (d) => {
        err += d;
      });
      return { c, out: () => out, err: () => err };
    };

    const listening = async (out: () => string) => {
      for (let i = 0; i < 200; i++) {
        const line = out()
          .split('\n')
          .find((l) => l.includes('"controller listening"'));
        if (line) return JSON.parse(line);
        await sleep(50);
      }
      throw new Error(`never listened: ${out()}`);
    };

    it('logs one "controller listening" line with the url and the path of an owner-only file holding the generated operator token, never the token; SIGTERM answers long-polls, exits 0 and removes the file', async () => {
      const p = run({});
      const line = await listening(p.out);
      expect(line.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(line.operatorToken).toBeUndefined();
      expect(statSync(line.operatorTokenFile).mode & 0o777).toBe(0o600);
      line.operatorToken = readFileSync(line.operatorTokenFile, 'utf8').trim();
      expect(line.operatorToken).toMatch(/^[\w-]{32}$/);
      const vm = await (
        await fetch(`${line.url}/api/vms`, {
          method: 'POST',
          headers: { authorization: `Bearer ${line.operatorToken}`, 'content-type': 'application/json' },
          body: '{}',
        })
      ).json();
      const poll = fetch(`${line.url}/api/vms/${vm.vmId}/sessions?wait=25`, {
        headers: { authorization: `Bearer ${vm.vmToken}` },
      });
      await sleep(150);
      p.c.kill('SIGTERM');
      const [r, ms] = await timed(poll);
      expect(r.status).toBe(200);
      expect(ms).toBeLessThan(2000);
      const [code] = await once(p.c, 'exit');
      expect(code).toBe(0);
      expect(
        p
          .out()
          .split('\n')
          .filter((l) => l.includes('"controller listening"')),
      ).toHaveLength(1);
      expect(p.out()).not.toContain(vm.vmToken);
      expect(p.out()).not.toContain(line.operatorToken);
      expect(existsSync(line.operatorTokenFile)).toBe(false);
    });

    it('does not print an operator token it was given', async () => {
      const p = run({ VMLIVE_OPERATOR_TOKEN: 'given-operator-token-123' });
      const line = await listening(p.out);
      expect(line.operatorToken).toBeUndefined();
      expect(p.out()).not.toContain('given-operator-token-123');
      p.c.kill('SIGTERM');
      expect((await once(p.c, 'exit'))[0]).toBe(0);
    });

    it('exits 0 on SIGTERM after whoever read its stdout has gone', async () => {
      // A supervisor piping the logs died: every write now fails with EPIPE. pino's asynchronous
      // destination retried its final flush forever (the process never exited); see createLogger.
      const p = run({});
      await listening(p.out);
      p.c.stdout?.destroy();
      await sleep(200);
      p.c.kill('SIGTERM');
      const code = await Promise.race([once(p.c, 'exit').then(([c]) => c), sleep(10_000).then(() => 'still running')]);
      expect(code, p.err()).toBe(0);
    });

    it('exits 2 with a clear message on a bad setting', async () => {
      const p = run({ VMLIVE_ICE_SERVERS: '{not json' });
      const [code] = await once(p.c, 'exit');
      expect(code).toBe(2);
      expect(p.err()).toContain('VMLIVE_ICE_SERVERS');
    });
  });
});
