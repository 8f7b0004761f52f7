import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from './config.js';
import { ERROR_CODES } from './errors.js';
import { type App, createApp, OPENAPI_PATH } from './http/app.js';
import type { Ctx } from './http/context.js';
import { buildOpenApi } from './openapi.js';
import { TestController } from './test/harness.js';

type Doc = {
  paths: Record<string, Record<string, { 'x-error-codes': string[]; responses: Record<string, unknown> }>>;
  components: { schemas: { ErrorCode: { enum: string[] } } };
};
const committed = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as Doc;

/** Every (method, path) the app routes, with `:param` turned into OpenAPI `{param}`. */
function appRoutes(app: App): string[] {
  return app.registered.map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
}

describe('openapi.json', () => {
  it('is up to date with the generator (run `npm run openapi -w master-controller`)', () => {
    expect(committed).toEqual(buildOpenApi());
  });

  it('documents every error code of the registry, each in at least one operation', () => {
    expect([...committed.components.schemas.ErrorCode.enum].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    const used = new Set(
      Object.values(committed.paths).flatMap((p) => Object.values(p).flatMap((op) => op['x-error-codes'])),
    );
    for (const code of Object.keys(ERROR_CODES)) expect(used, code).toContain(code);
  });

  it("lists each operation's error codes under their registry status", () => {
    for (const [path, ops] of Object.entries(committed.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const code of op['x-error-codes']) {
          const status = String(ERROR_CODES[code as keyof typeof ERROR_CODES].status);
          expect(op.responses[status], `${method} ${path} ${code}`).toBeDefined();
        }
      }
    }
  });

  it('documents every route the app serves, and nothing it does not', () => {
    const ctx = {
      config: resolveConfig({ webDir: null }),
      store: {},
      polls: {},
      metrics: {},
      logger: {},
    } as unknown as Ctx;
    const routes = appRoutes(createApp(ctx, () => false)).sort();
    const documented = Object.entries(committed.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`))
      .sort();
    expect(routes).toEqual(documented);
  });

  describe('served', () => {
    let t: TestController;
    beforeAll(async () => {
      t = await TestController.start();
    });
    afterAll(() => t.close());

    it('at GET /api/openapi.json without a token', async () => {
      const r = await t.call('GET', '/api/openapi.json', { token: null });
      expect(r.status).toBe(200);
      expect(r.body).toEqual(committed);
    });
  });
});
