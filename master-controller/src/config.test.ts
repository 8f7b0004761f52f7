import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv } from './config.js';

describe('configFromEnv', () => {
  it('has the documented defaults', () => {
    const c = configFromEnv({ VMLIVE_WEB_DIR: '' });
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      operatorToken: '',
      tokenSecret: '',
      iceServers: [],
      viewerTokenMaxTtlS: 86400,
      vmOnlineS: 15,
      webDir: null,
      logLevel: 'info',
      store: 'memory',
      storePrefix: 'vmlive:',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses every setting', () => {
    const c = configFromEnv({
      PORT: '0',
      HOST: '0.0.0.0',
      VMLIVE_OPERATOR_TOKEN: 'x'.repeat(20),
      VMLIVE_TOKEN_SECRET: 'y'.repeat(40),
      VMLIVE_ICE_SERVERS:
        '[{"urls":["stun:stun.l.google.com:19302"]},{"urls":"turn:t:3478","username":"u","credential":"p"}]',
      VMLIVE_SESSION_IDLE_TTL_S: '30',
      VMLIVE_VIEWER_TOKEN_MAX_TTL_S: '3600',
      VMLIVE_VM_ONLINE_S: '5',
      VMLIVE_WEB_DIR: '',
      LOG_LEVEL: 'debug',
      VMLIVE_STORE: 'redis://user:secret@127.0.0.1:6380/3',
      VMLIVE_STORE_PREFIX: 'vmlive-a:',
    });
    expect(c).toMatchObject({
      store: 'redis://user:secret@127.0.0.1:6380/3',
      storePrefix: 'vmlive-a:',
      port: 0,
      host: '0.0.0.0',
      sessionIdleTtlS: 30,
      viewerTokenMaxTtlS: 3600,
      vmOnlineS: 5,
      logLevel: 'debug',
    });
    expect(c.iceServers).toEqual([
      { urls: ['stun:stun.l.google.com:19302'] },
      { urls: 'turn:t:3478', username: 'u', credential: 'p' },
    ]);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['VMLIVE_ICE_SERVERS', '{not json'],
    ['VMLIVE_ICE_SERVERS', '{"urls":"stun:x"}'],
    ['VMLIVE_ICE_SERVERS', '[{"urls":"http://x"}]'],
    ['VMLIVE_ICE_SERVERS', '[{"urls":"stun:x","username":5}]'],
    ['VMLIVE_SESSION_IDLE_TTL_S', '0'],
    ['VMLIVE_SESSION_IDLE_TTL_S', '1.5'],
    ['VMLIVE_VIEWER_TOKEN_MAX_TTL_S', '-5'],
    ['VMLIVE_VM_ONLINE_S', 'soon'],
    ['VMLIVE_OPERATOR_TOKEN', 'short'],
    ['VMLIVE_TOKEN_SECRET', 'short'],
    ['VMLIVE_WEB_DIR', '/definitely/not/here'],
    ['LOG_LEVEL', 'loud'],
    ['VMLIVE_STORE', 'redis'],
    ['VMLIVE_STORE', 'redis://'],
    ['VMLIVE_STORE', 'http://127.0.0.1:6379'],
    ['VMLIVE_STORE', 'redis://127.0.0.1:99999/0'],
    ['VMLIVE_STORE', 'redis://127.0.0.1:6379/zero'],
    ['VMLIVE_STORE_PREFIX', 'has space'],
  ])('rejects %s=%s with a ConfigError naming the variable', (name, value) => {
    expect(() => configFromEnv({ [name]: value })).toThrow(ConfigError);
    expect(() => configFromEnv({ [name]: value })).toThrow(name);
  });
});

describe('TURN settings', () => {
  const base = { VMLIVE_WEB_DIR: '' };
  const turn = { ...base, VMLIVE_TURN_SECRET: 's'.repeat(24) };

  it('parses comma-separated turn:/turns: URLs, the secret and the credential TTL', () => {
    const c = configFromEnv({
      ...turn,
      VMLIVE_TURN_URLS:
        ' turn:turn.example:3478?transport=udp, turns:turn.example:443?transport=tcp ,turn:[2001:db8::1]:3478',
      VMLIVE_TURN_TTL_S: '3600',
      VMLIVE_ICE_TRANSPORT_POLICY: 'relay',
    });
    expect(c.turnUrls).toEqual([
      'turn:turn.example:3478?transport=udp',
      'turns:turn.example:443?transport=tcp',
      'turn:[2001:db8::1]:3478',
    ]);
    expect(c.turnTtlS).toBe(3600);
    expect(c.iceTransportPolicy).toBe('relay');
  });

  it.each([
    [{ ...base, VMLIVE_TURN_URLS: 'turn:t:3478' }, 'VMLIVE_TURN_SECRET', /required when VMLIVE_TURN_URLS/],
    [{ ...turn }, 'VMLIVE_TURN_URLS', /required when VMLIVE_TURN_SECRET/],
    [{ ...turn, VMLIVE_TURN_URLS: 'stun:t:3478' }, 'VMLIVE_TURN_URLS', /"stun:t:3478": must be turn:HOST/],
    [{ ...turn, VMLIVE_TURN_URLS: 'turn:u:p@t:3478' }, 'VMLIVE_TURN_URLS', /must be turn:HOST/],
    [{ ...turn, VMLIVE_TURN_URLS: 'turn:t?transport=sctp' }, 'VMLIVE_TURN_URLS', /must be turn:HOST/],
    [{ ...base, VMLIVE_TURN_URLS: 'turn:t', VMLIVE_TURN_SECRET: 'short' }, 'VMLIVE_TURN_SECRET', /at least 16/],
    [
      { ...turn, VMLIVE_TURN_URLS: 'turn:t', VMLIVE_TURN_TTL_S: '100' },
      'VMLIVE_TURN_TTL_S',
      /VMLIVE_SESSION_IDLE_TTL_S/,
    ],
    [{ ...turn, VMLIVE_TURN_URLS: 'turn:t', VMLIVE_TURN_TTL_S: '90000' }, 'VMLIVE_TURN_TTL_S', /86400/],
    [{ ...base, VMLIVE_ICE_TRANSPORT_POLICY: 'relay' }, 'VMLIVE_ICE_TRANSPORT_POLICY', /needs a TURN server/],
    [{ ...base, VMLIVE_ICE_TRANSPORT_POLICY: 'none' }, 'VMLIVE_ICE_TRANSPORT_POLICY', /all, relay/],
  ])('refuses %j naming %s', (env, variable, message) => {
    let err: unknown;
    try {
      configFromEnv(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as ConfigError).message).toMatch(message);
  });

  it('accepts relay-only with a static turn: server and no minted credentials', () => {
    const c = configFromEnv({
      ...base,
      VMLIVE_ICE_SERVERS: '[{"urls":"turn:t:3478","username":"u","credential":"p"}]',
      VMLIVE_ICE_TRANSPORT_POLICY: 'relay',
    });
    expect(c.iceTransportPolicy).toBe('relay');
  });
});
