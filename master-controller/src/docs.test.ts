/** docs/api.md is the contract's prose: it must name every route, error code and setting the code has. */
import { readFileSync } from 'node:fs';
import { ERROR_CODES, type Route, routes } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from './config.js';

const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');

describe('docs/api.md', () => {
  it.each(Object.values(routes as Record<string, Route>).map((r) => [`${r.method} ${r.path}`]))('documents %s', (r) => {
    const [method, path] = r.split(' ') as [string, string];
    const grouped = ['/healthz', '/metrics', '/api/openapi.json'].includes(path);
    expect(grouped ? doc.includes(path) : doc.includes(`${method} ${path} |`)).toBe(true);
  });

  it.each(Object.keys(ERROR_CODES))('documents the error code %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });

  it.each(Object.values(SETTINGS).map((s) => [s.env]))('documents the setting %s', (env) => {
    expect(doc).toContain(`\`${env}\``);
  });
});
