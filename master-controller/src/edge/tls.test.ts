/**
 * HTTPS served by the controller itself, with a test CA made here by openssl:
 * the certificate verifies against that CA, HSTS is sent, and a reload (what
 * SIGHUP does) serves the new certificate to new connections while a long-poll
 * already in flight on the old one is answered normally.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestController } from '../test/harness.js';

let dir: string;
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A leaf for 127.0.0.1 signed by the test CA, as `<name>.pem` / `<name>.key`. */
function leaf(name: string): void {
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    `${name}.pem`,
    '-extfile',
    'san.cnf',
  );
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  cn: string;
}

function get(url: string, path: string, token: string, ca: Buffer): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { ca, headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), cn }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the controller over HTTPS', () => {
  let t: TestController;
  let ca: Buffer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vmlive-tls-'));
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=vmlive test CA',
    );
    execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.cnf'], { cwd: dir });
    leaf('first');
    leaf('second');
    execFileSync('cp', ['first.pem', 'live.pem'], { cwd: dir });
    execFileSync('cp', ['first.key', 'live.key'], { cwd: dir });
    ca = execFileSync('cat', ['ca.pem'], { cwd: dir });
    t = await TestController.start({ tlsCertFile: join(dir, 'live.pem'), tlsKeyFile: join(dir, 'live.key') });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
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
    execFileSync('cp', ['second.pem', 'live.pem'], { cwd: dir });
    execFileSync('cp', ['second.key', 'live.key'], { cwd: dir });
    expect(t.controller.reloadTls()).toBe(true);
    const after = await get(t.url, '/api/vms', t.operatorToken, ca);
    expect(after.cn).toBe('second');
    const polled = await inFlight;
    expect(polled.status).toBe(200);
    expect(polled.cn).toBe('first');
    expect(JSON.parse(polled.body)).toHaveProperty('sessions');
  });

  it('a reload that cannot read the files keeps the certificate it has', async () => {
    rmSync(join(dir, 'live.key'));
    expect(t.controller.reloadTls()).toBe(false);
    expect((await get(t.url, '/api/vms', t.operatorToken, ca)).cn).toBe('second');
  });
});

async function createVm(t: TestController, ca: Buffer): Promise<{ vmId: string; vmToken: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${t.url}/api/vms`,
      {
        method: 'POST',
        ca,
        headers: { authorization: `Bearer ${t.operatorToken}`, 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as { vmId: string; vmToken: string }));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}
