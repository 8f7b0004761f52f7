/** Size and count limits of the REST contract, enforced by the controller and documented in the OpenAPI file. */

const encoder = new TextEncoder();

/** Byte length of a string as UTF-8 (what the limits count). */
export function utf8Length(s: string): number {
  return encoder.encode(s).length;
}

export const LIMITS = Object.freeze({
  sdpBytes: 64 * 1024,
  candidateBytes: 1024,
  candidatesPerSide: 256,
  jsonBodyBytes: 128 * 1024,
  snapshotBytes: 2 * 1024 * 1024,
  maxWaitSeconds: 30,
  /** A heartbeat's health report: peers listed, characters of its last error (keeps each ring sample small). */
  healthPeers: 32,
  healthErrorChars: 200,
});
