/**
 * A test certificate authority made by openssl in a temporary directory, for
 * the tests that serve HTTPS (the controller's own TLS unit test, the HTTPS and
 * reverse-proxy e2e): a P-256 CA, and leaves for 127.0.0.1 signed by it. Each
 * leaf is `<name>.pem` / `<name>.key` in `dir`; `install(name, as)` copies one
 * to `<as>.pem` / `<as>.key` (the files a server is pointed at, so a test can
 * swap the certificate under it and reload).
 */

import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  readonly dir: string;
  /** The CA certificate's path and PEM. */
  readonly caFile: string;
  readonly caPem: Buffer;
  /** Makes a leaf for IP 127.0.0.1 and DNS localhost (CN `name`; nginx checks an upstream by name only) signed by the CA. */
  leaf(name: string): void;
  /** Copies leaf `name` to `<as>.pem` / `<as>.key`; returns those paths. */
  install(name: string, as: string): { cert: string; key: string };
  /**
   * base64(sha256(SubjectPublicKeyInfo)) of leaf `name`: what Chromium's
   * --ignore-certificate-errors-spki-list takes to trust that one key.
   */
  spki(name: string): string;
  remove(): void;
}

export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'vmlive-ca-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=vmlive test CA');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const caFile = join(dir, 'ca.pem');
  return {
    dir,
    caFile,
    caPem: readFileSync(caFile),
    leaf(name) {
      openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
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
    },
    install(name, as) {
      const cert = join(dir, `${as}.pem`);
      const key = join(dir, `${as}.key`);
      copyFileSync(join(dir, `${name}.pem`), cert);
      copyFileSync(join(dir, `${name}.key`), key);
      return { cert, key };
    },
    spki(name) {
      const cert = new X509Certificate(readFileSync(join(dir, `${name}.pem`)));
      const der = cert.publicKey.export({ type: 'spki', format: 'der' });
      return createHash('sha256').update(der).digest('base64');
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
