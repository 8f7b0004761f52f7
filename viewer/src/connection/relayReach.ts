/**
 * Why ICE found no path, when the answer is "the TURN server": the last link
 * of the fallback chain (direct → TURN/UDP → TURN/TCP → TURN/TLS) is the relay,
 * and a viewer that could not even allocate on it (a firewall dropping
 * everything to it) has no path left but screenshots. The viewer then says
 * that, not a bare "ICE failed", so a user or an operator knows what to open.
 *
 * Evidence, per attempt: whether any local `relay` candidate was gathered
 * (an allocation succeeded on some TURN URL), and the URLs Chromium reported in
 * `icecandidateerror` (W3C webrtc-pc §4.8.2: errorCode 701 = the server could
 * not be reached, else the STUN error code the server answered).
 */
import type { ViewerReason, ViewerReasonCode } from './viewerState.js';

const TURN_URL = /^turns?:/i;

export class RelayReach {
  private readonly turnUrls: string[];
  private relayGathered = false;
  private readonly errors = new Map<string, number>();

  constructor(iceServers: readonly RTCIceServer[]) {
    this.turnUrls = iceServers
      .flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]))
      .filter((u) => TURN_URL.test(u));
  }

  /** A local candidate line (`candidate:… typ relay …`) as gathered. */
  gathered(candidate: string): void {
    if (/ typ relay( |$)/.test(candidate)) this.relayGathered = true;
  }

  /** An `icecandidateerror` event's URL and code. */
  error(url: string | undefined, errorCode: number): void {
    if (url && TURN_URL.test(url)) this.errors.set(url, errorCode);
  }

  /** The reason to report for an ICE loss of kind `code`. */
  lossReason(code: ViewerReasonCode): ViewerReason {
    if (this.turnUrls.length === 0 || this.relayGathered) return { code };
    const tried = this.turnUrls.map((u) => {
      const e = this.errors.get(u);
      return e === undefined ? `${u}: no allocation` : `${u}: ${e === 701 ? 'unreachable' : `error ${e}`}`;
    });
    return { code: 'turn-unreachable', detail: tried.join(', ') };
  }
}
