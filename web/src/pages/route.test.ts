import { describe, expect, it } from 'vitest';
import { parseRoute } from './route.js';

const loc = (path: string) => {
  const url = new URL(path, 'https://vmlive.example');
  return { pathname: url.pathname, search: url.search, hash: url.hash, origin: url.origin };
};

describe('routes', () => {
  it('reads the viewer token from the fragment', () => {
    expect(parseRoute(loc('/view?vm=vm-1#token=abc.def.ghi'))).toEqual({
      page: 'viewer',
      vmId: 'vm-1',
      token: 'abc.def.ghi',
      baseUrl: 'https://vmlive.example',
    });
  });

  it('also accepts ?token= and an ?api= controller URL', () => {
    expect(parseRoute(loc('/view/?vm=vm-1&token=t&api=http://127.0.0.1:8080'))).toMatchObject({
      page: 'viewer',
      token: 't',
      baseUrl: 'http://127.0.0.1:8080',
    });
  });

  it('prefers the fragment token over the query one', () => {
    expect(parseRoute(loc('/view?vm=v&token=query#token=fragment'))).toMatchObject({ token: 'fragment' });
  });

  it('explains a link without a VM or a token', () => {
    expect(parseRoute(loc('/view#token=t'))).toMatchObject({ page: 'viewer-error' });
    expect(parseRoute(loc('/view?vm=v'))).toMatchObject({ page: 'viewer-error' });
  });

  it('shows the operator console anywhere else', () => {
    expect(parseRoute(loc('/'))).toEqual({ page: 'console', baseUrl: 'https://vmlive.example' });
  });
});
