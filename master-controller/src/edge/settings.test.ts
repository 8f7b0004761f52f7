/** The edge settings as the environment gives them: lists normalised, anything ambiguous refused by name. */
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, resolveConfig } from '../config.js';

const base = { VMLIVE_WEB_DIR: '' };

describe('edge settings', () => {
  it('default to same origin only, nothing framing /view, no proxy trusted, plain HTTP', () => {
    const c = configFromEnv(base);
    expect(c).toMatchObject({ corsOrigins: [], frameAncestors: "'none'", trustProxy: [], tlsCertFile: '' });
  });

  it('parse origin lists, ancestors and proxy addresses', () => {
    const c = configFromEnv({
      ...base,
      VMLIVE_CORS_ORIGINS: 'https://app.example, http://127.0.0.1:5173',
      VMLIVE_FRAME_ANCESTORS: "'self',https://*.example.com",
      VMLIVE_TRUST_PROXY: '127.0.0.1, ::1',
    });
    expect(c.corsOrigins).toEqual(['https://app.example', 'http://127.0.0.1:5173']);
    expect(c.frameAncestors).toBe("'self' https://*.example.com");
    expect(c.trustProxy).toEqual(['127.0.0.1', '::1']);
    expect(configFromEnv({ ...base, VMLIVE_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });

  it.each([
    ['VMLIVE_CORS_ORIGINS', 'https://app.example/path', /not an origin/],
    ['VMLIVE_CORS_ORIGINS', 'app.example', /not an origin/],
    ['VMLIVE_CORS_ORIGINS', 'https://App.Example', /not an origin/],
    ['VMLIVE_CORS_ORIGINS', '*,https://app.example', /stands alone/],
    ['VMLIVE_FRAME_ANCESTORS', "'none' https://app.example", /stands alone/],
    ['VMLIVE_FRAME_ANCESTORS', "'unsafe-inline'", /not a frame-ancestors source/],
    ['VMLIVE_FRAME_ANCESTORS', 'https://a.example;script-src *', /not a frame-ancestors source/],
    ['VMLIVE_TRUST_PROXY', 'proxy.local', /not an IP address/],
    ['VMLIVE_TLS_KEY_FILE', '', /set together/],
  ])('refuses %s=%j', (variable, value, message) => {
    const env =
      variable === 'VMLIVE_TLS_KEY_FILE' ? { ...base, VMLIVE_TLS_CERT_FILE: '/c.pem' } : { ...base, [variable]: value };
    let err: unknown;
    try {
      configFromEnv(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err instanceof ConfigError && err.variable).toBe(variable);
    expect(err instanceof ConfigError && err.message).toMatch(message);
  });

  it('check a programmatic config with the same rules', () => {
    expect(() => resolveConfig({ frameAncestors: "'self'; script-src *" })).toThrow(ConfigError);
    expect(() => resolveConfig({ corsOrigins: ['*', 'https://a.example'] })).toThrow(ConfigError);
    expect(resolveConfig({ frameAncestors: "'self' https://a.example" }).frameAncestors).toBe(
      "'self' https://a.example",
    );
  });
});
