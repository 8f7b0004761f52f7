import { ApiClient, type ControlState, type FetchLike } from '@vmlive/protocol';
import { describe, expect, it } from 'vitest';
import { ControlClient, describeHolder } from './controlClient.js';

const api = (fetch: FetchLike) => new ApiClient({ baseUrl: 'http://c', token: 't', fetch });

describe('control client', () => {
  it('long-polls with since = the last state, reporting only changes, and stops on abort', async () => {
    const sinces: string[] = [];
    const states: ControlState[] = [
      { mode: 'agent', holder: null, since: 5 },
      { mode: 'user', holder: 's1', since: 9 },
    ];
    const abort = new AbortController();
    const fetch = async (url: string) => {
      const q = new URL(url).searchParams;
      sinces.push(`${q.get('since')}/${q.get('wait')}`);
      const next = states.shift();
      if (!next) {
        abort.abort();
        throw new DOMException('aborted', 'AbortError');
      }
      return new Response(JSON.stringify(next), { status: 200 });
    };
    const client = new ControlClient(api(fetch), { vmId: 'vm', waitSeconds: 20 });
    const seen: ControlState[] = [];
    await client.watch((s) => seen.push(s), abort.signal);
    expect(sinces).toEqual(['0/0', '5/20', '9/20']);
    expect(seen.map((s) => s.mode)).toEqual(['agent', 'user']);
  });

  it('stops watching for good when the token is refused', async () => {
    let calls = 0;
    const fetch = async () => {
      calls++;
      return new Response(JSON.stringify({ error: { code: 'forbidden', message: 'no' } }), { status: 403 });
    };
    const client = new ControlClient(api(fetch), { vmId: 'vm' });
    const errors: unknown[] = [];
    await client.watch(
      () => {},
      new AbortController().signal,
      (e) => errors.push(e),
    );
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('posts take with the session id', async () => {
    let body: unknown;
    const fetch = async (_url: string, init?: RequestInit) => {
      body = JSON.parse(String(init?.body));
      return new Response(JSON.stringify({ mode: 'user', holder: 's1', since: 3 }), { status: 200 });
    };
    const client = new ControlClient(api(fetch), { vmId: 'vm' });
    await expect(client.act('take', 's1')).resolves.toMatchObject({ holder: 's1' });
    expect(body).toEqual({ action: 'take', sessionId: 's1' });
  });
});

describe('who holds control, in words', () => {
  const at = (mode: ControlState['mode'], holder: string | null): ControlState => ({ mode, holder, since: 1 });
  it.each([
    [at('agent', null), 's1', 'agent'],
    [at('paused', 's1'), 's1', 'paused'],
    [at('user', 's1'), 's1', 'you'],
    [at('user', 's2'), 's1', 'other-viewer'],
    [at('user', 'operator'), 's1', 'operator'],
    [at('user', 's1'), null, 'other-viewer'],
  ] as const)('%o seen by %s → %s', (state, me, kind) => {
    expect(describeHolder(state, me).kind).toBe(kind);
  });
});
