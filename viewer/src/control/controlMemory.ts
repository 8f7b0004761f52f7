/**
 * Which session held control for the user in this tab, kept in
 * sessionStorage so a page reload can take control back with its new
 * session (retakePolicy.ts). Per tab and per VM: another tab, or the same
 * tab after it was closed, starts without it.
 */

export interface ControlMemory {
  load(): string | null;
  save(sessionId: string | null): void;
}

/** The slice of the Web Storage API this needs. */
export type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export function tabControlMemory(storage: StorageLike | null, vmId: string): ControlMemory {
  const key = `vmlive.heldControlWith.${vmId}`;
  return {
    load() {
      try {
        return storage?.getItem(key) || null;
      } catch {
        return null; // storage disabled (privacy settings): a reload then simply does not take control back
      }
    },
    save(sessionId) {
      try {
        if (sessionId) storage?.setItem(key, sessionId);
        else storage?.removeItem(key);
      } catch {
        // as above
      }
    },
  };
}

/** This tab's sessionStorage, or null where there is none (Node, storage disabled). */
export function sessionStorageOrNull(): StorageLike | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}

export function memoryOnly(): ControlMemory {
  let value: string | null = null;
  return {
    load: () => value,
    save: (sessionId) => {
      value = sessionId;
    },
  };
}
