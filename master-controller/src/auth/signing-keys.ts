/**
 * The controller's token signing keys: one current ES256 (ECDSA P-256) private
 * key that signs every new token, plus retired public keys that still verify
 * the tokens signed before a rotation. The public half of all of them is
 * published as a JWK Set (RFC 7517 §5) at GET /.well-known/jwks.json, so any
 * controller instance and the VM agents verify tokens offline.
 *
 * Keys come from PEM files (VMLIVE_SIGNING_KEY_FILE, PKCS#8; several
 * controllers share one), or are generated at start for a one-process
 * development setup (tokens then die with the process).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TOKEN_ALG } from '@vmlive/protocol';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { ConfigError } from '../config.js';

export interface PublicJwk extends JWK {
  kid: string;
  alg: typeof TOKEN_ALG;
  use: 'sig';
}

export interface SigningKeys {
  /** Signs new tokens. */
  privateKey: KeyObject | CryptoKey;
  kid: string;
  /** Current first, then the retired ones. */
  jwks: { keys: PublicJwk[] };
  generated: boolean;
}

async function publicJwk(key: KeyObject | CryptoKey): Promise<PublicJwk> {
  const { kty, crv, x, y } = await exportJWK(key);
  const jwk = { kty, crv, x, y } as JWK;
  // RFC 7638 thumbprint as kid: the same key gives the same kid on every instance.
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: TOKEN_ALG, use: 'sig' };
}

function readPem(env: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(env, `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checkP256(env: string, file: string, key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(
      env,
      `${file} is not an EC P-256 key (make one: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)`,
    );
  }
}

export async function loadSigningKeys(keyFile: string, retiredFiles: readonly string[]): Promise<SigningKeys> {
  let privateKey: KeyObject | CryptoKey;
  let generated = false;
  if (keyFile === '') {
    privateKey = (await generateKeyPair(TOKEN_ALG, { extractable: true })).privateKey;
    generated = true;
  } else {
    let key: KeyObject;
    try {
      key = createPrivateKey(readPem('VMLIVE_SIGNING_KEY_FILE', keyFile));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('VMLIVE_SIGNING_KEY_FILE', `${keyFile} is not a PEM private key`);
    }
    checkP256('VMLIVE_SIGNING_KEY_FILE', keyFile, key);
    privateKey = key;
  }
  const current = await publicJwk(privateKey);
  const keys = [current];
  for (const file of retiredFiles) {
    let key: KeyObject;
    try {
      // A retired key file may hold the old private key or only its public key.
      key = createPublicKey(readPem('VMLIVE_RETIRED_KEY_FILES', file));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('VMLIVE_RETIRED_KEY_FILES', `${file} is not a PEM key`);
    }
    checkP256('VMLIVE_RETIRED_KEY_FILES', file, key);
    const jwk = await publicJwk(key);
    if (!keys.some((k) => k.kid === jwk.kid)) keys.push(jwk);
  }
  return { privateKey, kid: current.kid, jwks: { keys }, generated };
}
