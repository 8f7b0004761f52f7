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
  /** Run control (run.ts): a step's index is below this; a run keeps at most `stepsKept` steps (the lowest indexes go first). */
  stepIndexMax: 100_000,
  stepsKept: 200,
  stepActionChars: 64,
  stepTargetChars: 256,
  stepDetailChars: 1024,
  /** A step's thumbnail JPEG (a 320x180 one is ~10 KiB). */
  thumbnailBytes: 48 * 1024,
  instructionsBytes: 8 * 1024,
  /** Overrides queued and not yet acked; and how many (acked ones first) a VM keeps in all. */
  overridesPending: 16,
  overridesKept: 64,
  overrideTextChars: 2048,
  overrideUrlChars: 2048,
  overrideSelectorChars: 512,
  /** A heartbeat's health report: peers listed, characters of its last error (keeps each ring sample small). */
  healthPeers: 32,
  healthErrorChars: 200,
});
