/**
 * The production edge's settings (CORS allowlist, framing, TLS, the proxy the
 * client address may come from, rate limits), spread into the controller's
 * table (config.ts) so they are parsed, checked and frozen with the rest.
 */
import { isIP } from 'node:net';
import { setting } from '@vmlive/protocol';
import { z } from 'zod';

const splitList = (raw: string): string[] =>
  raw
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** An origin exactly as a browser sends it in `Origin`: scheme://host[:port], no path. */
function checkOrigin(o: string): string {
  if (!/^https?:\/\/[^/]+$/.test(o) || !URL.canParse(o) || new URL(o).origin !== o)
    throw new Error(`${JSON.stringify(o)} is not an origin (scheme://host[:port], lower case, no path)`);
  return o;
}

const corsOrigins = setting.custom(
  'VMLIVE_CORS_ORIGINS',
  z.array(z.string().min(1)).refine((a) => !a.includes('*') || a.length === 1, "'*' stands alone"),
  (raw) => {
    const list = splitList(raw);
    if (list.includes('*')) {
      if (list.length > 1) throw new Error("'*' stands alone");
      return ['*'];
    }
    return list.map(checkOrigin);
  },
  {
    default: [],
    help: "comma-separated origins (https://app.example) whose pages may call the API from the browser; unset: same origin only; '*': any origin (a warning is logged at start)",
  },
);

// CSP source expressions a frame-ancestors list may hold (CSP3 §2.3.1), minus the ones that make no sense here.
const SOURCE = /^('self'|'none'|https?:|https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:(\d{1,5}|\*))?)$/;
function ancestors(raw: string): string {
  const list = splitList(raw);
  if (list.length === 0) throw new Error('must not be empty');
  for (const s of list) if (!SOURCE.test(s)) throw new Error(`${JSON.stringify(s)} is not a frame-ancestors source`);
  if (list.includes("'none'") && list.length > 1) throw new Error("'none' stands alone");
  return list.join(' ');
}
const frameAncestors = setting.custom(
  'VMLIVE_FRAME_ANCESTORS',
  z.string().refine((s) => {
    try {
      return ancestors(s) === s;
    } catch {
      return false;
    }
  }, "must be CSP frame-ancestors sources, space-separated ('self', https://app.example)"),
  ancestors,
  {
    default: "'none'",
    help: "who may frame the viewer page /view: CSP frame-ancestors sources, space- or comma-separated ('self', https://app.example, https://*.example); the console is never framable",
  },
);

const trustProxy = setting.custom(
  'VMLIVE_TRUST_PROXY',
  z.array(z.string().refine((a) => isIP(a) !== 0, 'must be IP addresses')),
  (raw) => {
    const list = splitList(raw);
    for (const a of list) if (isIP(a) === 0) throw new Error(`${JSON.stringify(a)} is not an IP address`);
    return list;
  },
  {
    default: [],
    help: 'comma-separated addresses of reverse proxies in front of the controller: from a peer among them, the client address (rate limits, logs) is the last X-Forwarded-For hop that is not one of them. Unset: X-Forwarded-For is ignored',
  },
);

export const EDGE_SETTINGS = {
  corsOrigins,
  frameAncestors,
  trustProxy,
  tlsCertFile: setting.str('VMLIVE_TLS_CERT_FILE', {
    default: '',
    help: 'PEM certificate chain: the controller serves HTTPS (with HSTS) when this and VMLIVE_TLS_KEY_FILE are set; both files are read again on SIGHUP',
  }),
  tlsKeyFile: setting.str('VMLIVE_TLS_KEY_FILE', {
    default: '',
    help: 'PEM private key of VMLIVE_TLS_CERT_FILE',
  }),
};
