/**
 * The client's address, for rate limits and logs: the TCP peer, unless the
 * peer is one of the proxies VMLIVE_TRUST_PROXY names; then the last
 * X-Forwarded-For hop that is not a trusted proxy (each proxy appends the
 * address it saw, so hops left of the first untrusted one could be forged by
 * the client). Without VMLIVE_TRUST_PROXY, X-Forwarded-For is never read.
 */
import type { IncomingMessage } from 'node:http';

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
const plain = (a: string) => (a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a);

export function clientAddressOf(trusted: readonly string[]): (req: IncomingMessage) => string {
  const proxies = new Set(trusted.map(plain));
  return (req) => {
    const peer = plain(req.socket.remoteAddress ?? '');
    if (proxies.size === 0 || !proxies.has(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((h) => plain(h.trim()))
      .filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (!proxies.has(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}
