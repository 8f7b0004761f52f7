/**
 * A stand-in for the controller's key endpoint in the gateway's tests: a real
 * HTTP server on loopback serving GET /.well-known/jwks.json from ES256 keys
 * generated here, and a signer for tokens as the controller would mint them.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JWKS_PATH, TOKEN_ALG, TOKEN_AUDIENCE, TOKEN_ISSUER } from '@vmlive/protocol';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

interface Key {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALG, { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: TOKEN_ALG, use: 'sig' } };
}

export interface MintOptions {
  kind?: string;
  sub?: string;
  /** seconds from now; negative = already expired */
  ttlS?: number;
  /** sign with this key instead of the current one (e.g. a key the server never published) */
  key?: Key;
  issuer?: string;
}

export class JwksServer {
  fetches = 0;
  /** When set, GET answers this status instead of the keys. */
  failWith: number | undefined;
  private keys: Key[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<JwksServer> {
    let self: JwksServer | undefined;
    const server = createServer((req, res) => {
      if (!self || req.url !== JWKS_PATH) {
        res.writeHead(404).end();
        return;
      }
      self.fetches++;
      if (self.failWith) {
        res.writeHead(self.failWith).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: self.keys.map((k) => k.jwk) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    self = new JwksServer(server, `http://127.0.0.1:${port}`);
    await self.rotate();
    return self;
  }

  /** Publishes a new current key (the old ones stay published). */
  async rotate(): Promise<void> {
    this.keys.unshift(await newKey());
  }

  /** A key that is never published. */
  static unpublishedKey(): Promise<Key> {
    return newKey();
  }

  mint(vmId: string, o: MintOptions = {}): Promise<string> {
    const key = o.key ?? this.keys[0];
    if (!key) throw new Error('no key');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ kind: o.kind ?? 'automation' })
      .setProtectedHeader({ alg: TOKEN_ALG, kid: key.kid, typ: 'JWT' })
      .setSubject(o.sub ?? vmId)
      .setIssuer(o.issuer ?? TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + (o.ttlS ?? 600))
      .sign(key.privateKey);
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
