/**
 * A VM's recent picture for one wall tile, fetched only while it can be seen:
 * the tile is in the viewport (IntersectionObserver) and the tab is not hidden
 * (`document.hidden`, visibilitychange). A tile scrolled away, or a console in a
 * background tab, asks for nothing, so a VM no one looks at is never asked for a
 * snapshot. The controller caches one snapshot per VM for VMLIVE_SNAPSHOT_MAX_AGE_MS,
 * so many consoles still cost the VM one capture per interval.
 */
import { type RefObject, useEffect, useRef, useState } from 'react';
import type { OperatorClient } from '../api/operatorClient.js';

export interface SnapshotState {
  url: string | null;
  /** ms epoch at which the picture arrived. */
  takenAt: number | null;
  failed: boolean;
}

export function useVisibleSnapshot(
  client: OperatorClient,
  vmId: string,
  target: RefObject<Element | null>,
  intervalMs: number,
  enabled: boolean,
): SnapshotState {
  const [state, setState] = useState<SnapshotState>({ url: null, takenAt: null, failed: false });
  const [inView, setInView] = useState(false);
  const [tabVisible, setTabVisible] = useState(() => !document.hidden);
  // The object URL shown now: revoked when replaced and on unmount (each holds a JPEG in memory).
  const shown = useRef<string | null>(null);
  useEffect(
    () => () => {
      if (shown.current) URL.revokeObjectURL(shown.current);
    },
    [],
  );

  useEffect(() => {
    const el = target.current;
    if (!el) return;
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) setInView(e.isIntersecting);
    });
    io.observe(el);
    return () => io.disconnect();
  }, [target]);

  useEffect(() => {
    const onChange = () => setTabVisible(!document.hidden);
    document.addEventListener('visibilitychange', onChange);
    return () => document.removeEventListener('visibilitychange', onChange);
  }, []);

  const active = enabled && inView && tabVisible;
  useEffect(() => {
    if (!active) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      let next = intervalMs;
      try {
        const blob = await client.snapshot(vmId, abort.signal);
        if (abort.signal.aborted) return;
        const url = URL.createObjectURL(blob);
        if (shown.current) URL.revokeObjectURL(shown.current);
        shown.current = url;
        setState({ url, takenAt: Date.now(), failed: false });
      } catch {
        if (abort.signal.aborted) return;
        // Keep the last picture; the tile says it is stale. A VM that was slow to answer (snapshot_unavailable
        // after the controller's 3 s wait) is asked again sooner, so a tile without a picture does not sit empty.
        setState((prev) => ({ ...prev, failed: true }));
        next = Math.min(intervalMs, 1000);
      }
      if (!abort.signal.aborted) timer = setTimeout(() => void tick(), next);
    };
    void tick();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [active, client, vmId, intervalMs]);

  return state;
}
