import { useEffect } from 'react';
import { WebRTCViewer } from '../viewer/WebRTCViewer.js';

/** /view?vm=<id>#token=<token>: one VM, full window. */
export function ViewerPage({ baseUrl, vmId, token }: { baseUrl: string; vmId: string; token: string }) {
  useEffect(() => {
    document.title = `VM ${vmId} — vmlive`;
  }, [vmId]);
  return (
    <main className="viewer-page">
      <h1 className="visually-hidden">Live view of VM {vmId}</h1>
      <WebRTCViewer baseUrl={baseUrl} vmId={vmId} token={token} fill />
    </main>
  );
}
