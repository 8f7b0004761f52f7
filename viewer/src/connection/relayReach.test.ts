import { describe, expect, it } from 'vitest';
import { RelayReach } from './relayReach.js';

const turn = [
  { urls: 'stun:stun.example.com:3478' },
  { urls: ['turn:t.example.com:3478?transport=udp', 'turns:t.example.com:443?transport=tcp'], username: 'u' },
];

describe('RelayReach', () => {
  it('names the TURN URLs and what each answered when no relay candidate was gathered', () => {
    const r = new RelayReach(turn);
    r.gathered('candidate:1 1 udp 2122260223 192.168.72.2 50000 typ host generation 0');
    r.error('turn:t.example.com:3478?transport=udp', 701);
    r.error('stun:stun.example.com:3478', 701);
    expect(r.lossReason('ice-failed')).toEqual({
      code: 'turn-unreachable',
      detail:
        'turn:t.example.com:3478?transport=udp: unreachable, turns:t.example.com:443?transport=tcp: no allocation',
    });
  });

  it('keeps the ICE reason once any relay candidate was gathered', () => {
    const r = new RelayReach(turn);
    r.error('turn:t.example.com:3478?transport=udp', 701);
    r.gathered('candidate:2 1 tcp 8265471 203.0.113.150 41000 typ relay raddr 0.0.0.0 rport 0');
    expect(r.lossReason('ice-timeout')).toEqual({ code: 'ice-timeout' });
  });

  it('keeps the ICE reason when the session has no TURN server', () => {
    expect(new RelayReach([{ urls: 'stun:s.example.com' }]).lossReason('ice-failed')).toEqual({ code: 'ice-failed' });
  });
});
