import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksAutomationAuth } from './automation-auth.js';
import { GatewayError } from './errors.js';
import { JwksServer } from './testing/jwks-server.js';

const log = pino({ level: 'silent' });
const VM = 'vm-7';

async function failure(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(err)}`);
  return err;
}

describe('automation tokens, verified offline against the controller JWKS', () => {
  let jwks: JwksServer;
  beforeAll(async () => {
    jwks = await JwksServer.start();
  });
  afterAll(() => jwks.stop());

  const auth = (o: Partial<ConstructorParameters<typeof JwksAutomationAuth>[0]> = {}) =>
    new JwksAutomationAuth({ controllerUrl: jwks.url, vmId: VM, log, ...o });

  it('accepts an automation token for this VM and fetches the keys once', async () => {
    const a = auth();
    const before = jwks.fetches;
    const p = await a.verify(await jwks.mint(VM));
    expect(p.vmId).toBe(VM);
    expect(p.expiresAt).toBeGreaterThan(Date.now());
    await a.verify(await jwks.mint(VM));
    expect(jwks.fetches - before).toBe(1);
  });

  it('refuses a missing, malformed, forged or expired token with 401', async () => {
    const a = auth();
    expect(await failure(a.verify(undefined))).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(await failure(a.verify('not-a-jwt'))).toMatchObject({ status: 401, code: 'unauthorized' });
    const stranger = await JwksServer.unpublishedKey();
    const forged = await failure(a.verify(await jwks.mint(VM, { key: stranger })));
    expect(forged).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(forged.message).toMatch(/unknown key/);
    // A published kid on a token signed by another key: the signature check catches it.
    const good = await jwks.mint(VM);
    const [h, p] = good.split('.');
    const other = (await jwks.mint(VM, { key: stranger })).split('.')[2];
    expect((await failure(a.verify(`${h}.${p}.${other}`))).message).toMatch(/signature/);
    expect(await failure(a.verify(await jwks.mint(VM, { ttlS: -60 })))).toMatchObject({
      status: 401,
      code: 'token_expired',
    });
    expect((await failure(a.verify(await jwks.mint(VM, { issuer: 'someone' })))).message).toMatch(/iss/);
  });

  it('refuses a token for another VM, or of another kind, with 403', async () => {
    const a = auth();
    const other = await failure(a.verify(await jwks.mint('vm-8')));
    expect(other).toMatchObject({ status: 403, code: 'forbidden' });
    expect(other.message).toMatch(/another VM/);
    const viewer = await failure(a.verify(await jwks.mint(VM, { kind: 'viewer' })));
    expect(viewer).toMatchObject({ status: 403, code: 'forbidden' });
    expect(viewer.message).toMatch(/viewer token/);
  });

  it('fetches the keys again when the controller signs with a new key', async () => {
    const a = auth({ refreshCooldownMs: 0 });
    await a.verify(await jwks.mint(VM));
    const before = jwks.fetches;
    await jwks.rotate();
    await expect(a.verify(await jwks.mint(VM))).resolves.toMatchObject({ vmId: VM });
    expect(jwks.fetches - before).toBe(1);
  });

  it('keeps the cached keys when the controller is down, and answers 503 when it never had any', async () => {
    const a = auth({ maxAgeMs: 0, refreshCooldownMs: 0 });
    await a.verify(await jwks.mint(VM));
    jwks.failWith = 500;
    try {
      await expect(a.verify(await jwks.mint(VM))).resolves.toMatchObject({ vmId: VM });
      const fresh = auth();
      expect(await failure(fresh.verify(await jwks.mint(VM)))).toMatchObject({
        status: 503,
        code: 'keys_unavailable',
      });
    } finally {
      jwks.failWith = undefined;
    }
  });
});
