/**
 * One HTTPS request with node:https, for the tests that trust a private CA (test-ca.ts): global
 * fetch trusts only what Node loaded at start, node:https takes a CA per request. A fresh
 * connection each time (`agent: false`), so a test sees the certificate the server serves now,
 * and the answer says which one it was (the leaf's CN).
 */
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The subject CN of the certificate the server presented on this connection. */
  cn: string;
}

export interface HttpsRequestOptions {
  method?: string;
  /** Sent as the request body (JSON: give `content-type` in headers). */
  body?: string;
  ca?: Buffer;
  headers?: Record<string, string>;
  localAddress?: string;
}

export function httpsRequest(url: string, opts: HttpsRequestOptions = {}): Promise<HttpsAnswer> {
  const { body, ...options } = opts;
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), cn }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}
