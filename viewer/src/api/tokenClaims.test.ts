import { describe, expect, it } from 'vitest';
import { isTokenExpired, readTokenClaims } from './tokenClaims.js';

const b64url = (o: unknown) =>
  btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o))))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const jwt = (payload: unknown) => `${b64url({ alg: 'HS256' })}.${b64url(payload)}.sig`;

describe('token claims (UI only)', () => {
  it('reads role, VM (sub) and expiry from a viewer JWT', () => {
    expect(readTokenClaims(jwt({ kind: 'viewer', role: 'control', sub: 'vm-1', exp: 2_000_000_000 }))).toEqual({
      role: 'control',
      vmId: 'vm-1',
      exp: 2_000_000_000,
    });
  });

  it('decodes base64url payloads with non-ASCII text', () => {
    expect(readTokenClaims(jwt({ role: 'view', sub: 'vm-é' }))?.vmId).toBe('vm-é');
  });

  it('returns null for the opaque operator token and garbage', () => {
    expect(readTokenClaims('an-operator-token')).toBeNull();
    expect(readTokenClaims('a.b.c')).toBeNull();
  });

  it('ignores an unknown role', () => {
    expect(readTokenClaims(jwt({ role: 'admin' }))?.role).toBeNull();
  });

  it('knows when exp has passed', () => {
    const token = jwt({ role: 'view', exp: 1000 });
    expect(isTokenExpired(token, 999_000)).toBe(false);
    expect(isTokenExpired(token, 1_000_000)).toBe(true);
    expect(isTokenExpired('opaque', 1e15)).toBe(false);
  });
});
