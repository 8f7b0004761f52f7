import { describe, expect, it } from 'vitest';
import { GatewayError } from './errors.js';
import {
  bearerToken,
  checkHost,
  matchJsonRoute,
  parseRequestTarget,
  rewriteFrontendUrl,
  rewriteWsUrl,
} from './http-endpoints.js';

const JWT = 'aaa.bbb.ccc';

describe('DevTools HTTP endpoints', () => {
  it('splits the /token/<jwt> prefix off the path and keeps the query', () => {
    expect(parseRequestTarget(`/token/${JWT}/json/version/`)).toEqual({
      pathToken: JWT,
      prefix: `/token/${JWT}`,
      path: '/json/version',
      search: '',
    });
    expect(parseRequestTarget(`/token/${JWT}`)).toMatchObject({ pathToken: JWT, path: '/' });
    expect(parseRequestTarget('/json/new?about:blank')).toEqual({
      pathToken: undefined,
      prefix: '',
      path: '/json/new',
      search: '?about:blank',
    });
    // Not a JWT: not a prefix, so the path is unknown (404), never silently stripped.
    expect(parseRequestTarget('/token/abc/json').path).toBe('/token/abc/json');
  });

  it('reads a bearer token', () => {
    expect(bearerToken(`Bearer ${JWT}`)).toBe(JWT);
    expect(bearerToken(`bearer  ${JWT} `)).toBe(JWT);
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('matches the endpoints Chromium serves and nothing else', () => {
    expect(matchJsonRoute('/json/version')).toMatchObject({ endpoint: 'version', changes: false });
    expect(matchJsonRoute('/json')).toMatchObject({ endpoint: 'list' });
    expect(matchJsonRoute('/json/list')).toMatchObject({ endpoint: 'list' });
    expect(matchJsonRoute('/json/new')).toMatchObject({ endpoint: 'new', changes: true });
    expect(matchJsonRoute('/json/activate/ABC')).toMatchObject({ endpoint: 'activate', changes: true });
    expect(matchJsonRoute('/json/close/ABC')).toMatchObject({ endpoint: 'close', changes: true });
    expect(matchJsonRoute('/json/protocol')).toMatchObject({ endpoint: 'protocol', rewrite: null });
    for (const p of ['/', '/json/close', '/json/activate/a/b', '/devtools/page/x', '/json/versions']) {
      expect(matchJsonRoute(p), p).toBeUndefined();
    }
  });

  it('points WebSocket URLs at the gateway, keeping the token prefix', () => {
    const base = `10.0.0.5:9223/token/${JWT}`;
    expect(rewriteWsUrl('ws://127.0.0.1:9222/devtools/page/ABC', base)).toBe(`ws://${base}/devtools/page/ABC`);
    expect(rewriteFrontendUrl('/devtools/inspector.html?ws=127.0.0.1:9222/devtools/page/ABC', base)).toBe(
      `/devtools/inspector.html?ws=${base}/devtools/page/ABC`,
    );
    expect(
      rewriteFrontendUrl(
        'https://x.appspot.com/serve_rev/@1/inspector.html?ws=127.0.0.1:9222/devtools/page/A&x=1',
        base,
      ),
    ).toBe(`https://x.appspot.com/serve_rev/@1/inspector.html?ws=${base}/devtools/page/A&x=1`);
  });

  it('accepts only IP addresses and localhost as Host without auth (DNS rebinding)', () => {
    for (const h of ['127.0.0.1:9223', 'localhost:1', 'LOCALHOST', '[::1]:9223', '10.1.2.3']) {
      expect(checkHost(h, false)).toBe(h);
    }
    for (const h of ['evil.example:9223', 'x.localhost', undefined, '', 'a b', 'host/../x']) {
      expect(() => checkHost(h, false), String(h)).toThrow(GatewayError);
    }
    expect(checkHost('vm-7.internal:9223', true)).toBe('vm-7.internal:9223');
    expect(() => checkHost('a"b', true)).toThrow(/Host/);
  });
});
