/**
 * rootfs/vm.sh provision --ca-file: the bundle is checked on the host before
 * anything is created (a bundle the agent cannot parse would stop it at every
 * boot). Runs the script up to its usage checks, which need no root; the VM
 * boot that installs the file is e2e/vm-image.vm.test.ts's territory.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCa } from '../../master-controller/src/test/test-ca.js';
import { REPO_ROOT } from '../../vm-browser-agent/src/sandbox/local-system.js';

const ca = makeTestCa();
afterAll(() => ca.remove());

function provision(caFile: string) {
  const r = spawnSync(
    'bash',
    [
      join(REPO_ROOT, 'rootfs/vm.sh'),
      'provision',
      'ca-test',
      '--controller',
      'https://127.0.0.1:1',
      '--ca-file',
      caFile,
    ],
    { encoding: 'utf8', env: { ...process.env, VMLIVE_OPERATOR_TOKEN: '', VMLIVE_STATE_DIR: join(ca.dir, 'state') } },
  );
  return { status: r.status, stderr: r.stderr };
}

describe('vm.sh provision --ca-file', () => {
  it('refuses a missing file, naming the option, before creating anything', () => {
    const r = provision(join(ca.dir, 'missing.pem'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--ca-file is not a readable file/);
  });

  it('refuses a file without a valid PEM certificate', () => {
    for (const [name, text] of [
      ['empty.pem', 'nothing here\n'],
      ['bad.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
    ] as const) {
      writeFileSync(join(ca.dir, name), text);
      const r = provision(join(ca.dir, name));
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--ca-file holds no valid PEM certificate/);
    }
  });

  it('accepts a CA certificate (and goes on to the next check: who registers the VM)', () => {
    const r = provision(ca.caFile);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(/--ca-file/);
    expect(r.stderr).toMatch(/--operator-token/);
  });
});
