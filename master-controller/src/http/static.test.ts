import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestController } from '../test/harness.js';

describe('serving the built viewer (VMLIVE_WEB_DIR)', () => {
  let dir: string;
  let t: TestController;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vmlive-web-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>viewer</title>');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    t = await TestController.start({ webDir: dir });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and files by path', async () => {
    const root = await t.call('GET', '/', { token: null });
    expect(root.status).toBe(200);
    expect(root.text).toContain('<title>viewer</title>');
    const js = await t.call('GET', '/assets/app.js', { token: null });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
  });

  it('falls back to index.html for client-side routes', async () => {
    const r = await t.call('GET', '/vms/abc/view', { token: null });
    expect(r.status).toBe(200);
    expect(r.text).toContain('<title>viewer</title>');
  });

  it('keeps /api answers JSON: unknown API paths are 404 not_found, not the viewer', async () => {
    const r = await t.call('GET', '/api/nothing-here', { token: null });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });
});
