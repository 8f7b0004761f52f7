/**
 * HTTPS served by the controller itself, with a test CA made here by openssl:
 * the certificate verifies against that CA, HSTS is sent, and a reload (what
 * SIGHUP does) serves the new certificate to new connections while a long-poll
 * already in flight on the old one is answered normally.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestController } from '../test/harness.js';
import { httpsRequest } from '../test/https-request.js';
import { makeTestCa, type TestCa } from '../test/test-ca.js';

const get = (url: string, path: string, token: string, ca: Buffer) =>
  httpsRequest(`${url}${path}`, { ca, headers: { authorization: `Bearer ${token}` } });

describe('the controller over HTTPS', () => {
  let t: TestController;
  let ca: Buffer;
  let testCa: TestCa;
  beforeAll(async () => {
    testCa = makeTestCa();
    testCa.leaf('first');
    testCa.leaf('second');
    const live = testCa.install('first', 'live');
    ca = testCa.caPem;
    t = await TestController.start({ tlsCertFile: live.cert, tlsKeyFile: live.key });
  });
  afterAll(async () => {
    await t?.close();
    testCa?.remove();
  });

  it('serves HTTPS verified by the CA, with HSTS', async () => {
    expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await get(t.url, '/api/vms', t.operatorToken, ca);
    expect(r.status).toBe(200);
    expect(r.cn).toBe('first');
    expect(r.headers['strict-transport-security']).toBe('max-age=63072000');
  });

  it('a reload serves the new certificate to new connections; a long-poll in flight is answered', async () => {
    const { vmId, vmToken } = await createVm(t, ca);
    const inFlight = get(t.url, `/api/vms/${vmId}/sessions?wait=2`, vmToken, ca);
    await new Promise((r) => setTimeout(r, 300));
    testCa.install('second', 'live');
    expect(t.controller.reloadTls()).toBe(true);
    const after = await get(t.url, '/api/vms', t.operatorToken, ca);
    expect(after.cn).toBe('second');
    const polled = await inFlight;
    expect(polled.status).toBe(200);
    expect(polled.cn).toBe('first');
    expect(JSON.parse(polled.body)).toHaveProperty('sessions');
  });

  it('a reload that cannot read the files keeps the certificate it has', async () => {
    rmSync(join(testCa.dir, 'live.key'));
    expect(t.controller.reloadTls()).toBe(false);
    expect((await get(t.url, '/api/vms', t.operatorToken, ca)).cn).toBe('second');
  });
});

async function createVm(t: TestController, ca: Buffer): Promise<{ vmId: string; vmToken: string }> {
  const r = await httpsRequest(`${t.url}/api/vms`, {
    method: 'POST',
    ca,
    headers: { authorization: `Bearer ${t.operatorToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  return JSON.parse(r.body) as { vmId: string; vmToken: string };
}
