/**
 * For pages under a strict Content-Security-Policy (no 'unsafe-eval'), as the
 * controller serves its console and viewer: zod compiles object parsers with
 * `new Function` when it may, and probes for that once; under such a CSP the
 * probe fails and is swallowed, but the browser still reports a
 * `securitypolicyviolation` for it. Jitless parsing skips the probe. zod probes
 * when the first object schema is built, so this is its own entry point
 * (`@vmlive/protocol/browser`, which loads zod and nothing else) and a page
 * calls it from its first import, before the protocol's schemas are built.
 * Node processes keep the compiled parsers.
 */
import { z } from 'zod';

export function parseWithoutEval(): void {
  z.config({ jitless: true });
}
