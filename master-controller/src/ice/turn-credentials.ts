/**
 * TURN credentials minted per session, in the scheme coturn implements as its
 * "TURN REST API" (draft-uberti-behave-turn-rest-00 §2.2, coturn's
 * `use-auth-secret` / `static-auth-secret`): the username is
 * `<expiry unix seconds>:<subject>` and the password is
 * base64(HMAC-SHA1(shared secret, username)). coturn recomputes the password
 * from the username, so nothing is stored, and refuses a username whose expiry
 * has passed; the shared secret never leaves the controller.
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from '@vmlive/protocol';
import type { ControllerConfig } from '../config.js';

export interface TurnCredential {
  username: string;
  credential: string;
  /** unix seconds after which the TURN server refuses it */
  expiresAt: number;
}

export function mintTurnCredential(secret: string, subject: string, expiresAtS: number): TurnCredential {
  const username = `${expiresAtS}:${subject}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt: expiresAtS };
}

/**
 * What one session's two sides get: the static VMLIVE_ICE_SERVERS plus, when
 * TURN is configured, one entry with every TURN URL and a credential for this
 * session. The expiry counts from the session's creation, so the viewer (at
 * create time) and the VM side (on each poll) get the same credential.
 */
export function sessionIceServers(
  config: Pick<ControllerConfig, 'iceServers' | 'turnUrls' | 'turnSecret' | 'turnTtlS'>,
  session: { sessionId: string; createdAt: number },
): IceServer[] {
  if (config.turnUrls.length === 0) return config.iceServers;
  const expiry = Math.floor(session.createdAt / 1000) + config.turnTtlS;
  const { username, credential } = mintTurnCredential(config.turnSecret, session.sessionId, expiry);
  return [...config.iceServers, { urls: [...config.turnUrls], username, credential }];
}
