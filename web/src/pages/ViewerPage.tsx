import { TakeoverPanel, VmliveProvider, VmliveViewer } from '@vmlive/viewer';
import { useEffect } from 'react';

/** /view?vm=<id>#token=<token>: one VM, full window, in hybrid mode, with who is in control beside it. */
export function ViewerPage({ baseUrl, vmId, token }: { baseUrl: string; vmId: string; token: string }) {
  useEffect(() => {
    document.title = `VM ${vmId} — vmlive`;
  }, [vmId]);
  return (
    <main className="viewer-page">
      <h1 className="visually-hidden">Live view of VM {vmId}</h1>
      <VmliveProvider controllerUrl={baseUrl} vmId={vmId} token={token} mode="auto">
        <div className="viewer-page__screen">
          <VmliveViewer fill />
        </div>
        <aside className="viewer-page__side">
          <TakeoverPanel />
        </aside>
      </VmliveProvider>
    </main>
  );
}
