/**
 * The browser's own view of the network, for hybrid mode: the Network
 * Information API (`navigator.connection`: `saveData`, `effectiveType`, and a
 * `change` event), which Chromium-based browsers have and others lack —
 * there the hint is simply "nothing known".
 * https://wicg.github.io/netinfo/
 */
import type { NetworkHint } from './displayPolicy.js';

export interface NetworkHints {
  current(): NetworkHint;
  /** Calls `listener` when the hint changes; returns the unsubscribe. */
  watch(listener: (hint: NetworkHint) => void): () => void;
}

/** The slice of NetworkInformation this reads (it is not in TypeScript's DOM lib). */
interface NetworkInformationLike {
  saveData?: unknown;
  effectiveType?: unknown;
  addEventListener?(type: 'change', listener: () => void): void;
  removeEventListener?(type: 'change', listener: () => void): void;
}

export const NO_HINT: Readonly<NetworkHint> = Object.freeze({ saveData: false, effectiveType: null });

function connectionOf(nav: unknown): NetworkInformationLike | null {
  if (typeof nav !== 'object' || nav === null || !('connection' in nav)) return null;
  const connection = nav.connection;
  return typeof connection === 'object' && connection !== null ? connection : null;
}

export function browserNetworkHints(nav: unknown = globalThis.navigator): NetworkHints {
  const connection = connectionOf(nav);
  const current = (): NetworkHint =>
    connection
      ? {
          saveData: connection.saveData === true,
          effectiveType: typeof connection.effectiveType === 'string' ? connection.effectiveType : null,
        }
      : NO_HINT;
  return {
    current,
    watch(listener) {
      if (!connection?.addEventListener) return () => {};
      const onChange = () => listener(current());
      connection.addEventListener('change', onChange);
      return () => connection.removeEventListener?.('change', onChange);
    },
  };
}

/** A fixed hint (tests, or an app that knows better than the browser). */
export function fixedNetworkHints(hint: NetworkHint): NetworkHints {
  return { current: () => hint, watch: () => () => {} };
}
