import { ApiClient, InvalidResponseError } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { OperatorClient, viewerLink } from './operatorClient.js';

describe('operator client', () => {
  it('pauses and resumes with the operator token and no session of its own', async () => {
    const requests: Array<{ method?: string; url: string; body: unknown; auth: string | null }> = [];
    const fetch = async (url: string, init?: RequestInit) => {
      requests.push({
        method: init?.method,
        url,
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
        auth: new Headers(init?.headers).get('authorization'),
      });
      return new Response(JSON.stringify({ mode: 'paused', holder: null, since: 2 }), { status: 200 });
    };
    const client = new OperatorClient(new ApiClient({ baseUrl: 'http://c', token: 'op', fetch }));
    await expect(client.control('vm-1', 'pause')).resolves.toMatchObject({ mode: 'paused' });
    expect(requests).toEqual([
      {
        method: 'POST',
        url: 'http://c/api/vms/vm-1/control',
        body: { action: 'pause' },
        auth: 'Bearer op',
      },
    ]);
  });

  it('rejects a malformed VM list instead of rendering it', async () => {
    const fetch = async () => new Response(JSON.stringify({ vms: [{ vmId: 1 }] }), { status: 200 });
    const client = new OperatorClient(new ApiClient({ baseUrl: 'http://c', token: 'op', fetch }));
    await expect(client.listVms()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('puts the viewer token in the link fragment, never the query', () => {
    const link = viewerLink('https://vmlive.example/', 'vm 1', 'a.b.c');
    expect(link).toBe('https://vmlive.example/view?vm=vm%201#token=a.b.c');
    expect(new URL(link).search).not.toContain('token');
  });
});
