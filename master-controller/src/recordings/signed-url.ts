/**
 * Signed segment URLs: a `<video src>` sends no Authorization header, so the listing hands out
 * URLs that carry their own short-lived grant, `?exp=<ms epoch>&sig=<HMAC-SHA256>`, over the
 * path and the expiry. The key is derived from the operator token, which every controller sharing
 * a store already has (docs/api.md), so any of them verifies a URL another signed; rotating the
 * operator token revokes every URL handed out.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class SegmentSigner {
  private readonly key: Buffer;

  constructor(operatorToken: string) {
    this.key = createHmac('sha256', operatorToken).update('vmlive recording segment urls v1').digest();
  }

  private mac(path: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${path}\n${exp}`).digest('base64url');
  }

  /** `path` with the query that grants reading it until `exp`. */
  sign(path: string, exp: number): string {
    return `${path}?exp=${exp}&sig=${this.mac(path, exp)}`;
  }

  /** Whether `sig` grants `path` at `now`. */
  verify(path: string, exp: number, sig: string, now: number): boolean {
    if (exp < now) return false;
    const want = Buffer.from(this.mac(path, exp));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
