import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config.js';
import { mintTurnCredential, sessionIceServers } from './turn-credentials.js';

describe('mintTurnCredential', () => {
  it('is the TURN REST scheme coturn checks: "expiry:subject" and base64(HMAC-SHA1(secret, username))', () => {
    // Vector computed with: printf %s '1800000000:sess-1' | openssl dgst -sha1 -hmac 'north-wind-secret-42' -binary | base64
    const c = mintTurnCredential('north-wind-secret-42', 'sess-1', 1_800_000_000);
    expect(c).toEqual({
      username: '1800000000:sess-1',
      credential: 'OwTo6eeq/EW6dhx+GmCKZSJC6Po=',
      expiresAt: 1_800_000_000,
    });
  });
});

describe('sessionIceServers', () => {
  const stun = { urls: 'stun:stun.example:3478' };
  it('is the static list when no TURN server is configured', () => {
    const config = resolveConfig({ webDir: null, iceServers: [stun] });
    expect(sessionIceServers(config, { sessionId: 's1', createdAt: 1_700_000_000_000 })).toEqual([stun]);
  });

  it('adds one TURN entry per session, expiring VMLIVE_TURN_TTL_S after the session was created, the same on every call', () => {
    const config = resolveConfig({
      webDir: null,
      iceServers: [stun],
      turnUrls: ['turn:t.example:3478', 'turns:t.example:443?transport=tcp'],
      turnSecret: 'north-wind-secret-42',
      turnTtlS: 600,
    });
    const s = { sessionId: 's1', createdAt: 1_700_000_000_999 };
    const a = sessionIceServers(config, s);
    expect(a).toHaveLength(2);
    expect(a[1]).toMatchObject({
      urls: ['turn:t.example:3478', 'turns:t.example:443?transport=tcp'],
      username: '1700000600:s1',
    });
    expect(sessionIceServers(config, s)).toEqual(a);
    const other = sessionIceServers(config, { sessionId: 's2', createdAt: s.createdAt })[1];
    expect(other?.credential).not.toBe(a[1]?.credential);
    expect(JSON.stringify(a)).not.toContain('north-wind-secret-42');
  });
});
