// A test-run page of someone else's, with the run's browser live beside it: <VmliveViewer> and
// <TakeoverPanel> from @vmlive/viewer, installed from its npm pack tarball.
import { TakeoverPanel, VmliveProvider, VmliveViewer } from '@vmlive/viewer';
import '@vmlive/viewer/style.css';
import { StrictMode, useCallback, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { logLine, readParams } from './params.js';

function RunPage() {
  const params = readParams();
  const [events, setEvents] = useState<string[]>([]);
  const show = useCallback((line: string) => setEvents((old) => [...old.slice(-199), logLine(line)]), []);
  return (
    <main style={{ font: '15px/1.4 system-ui, sans-serif', margin: '1.5rem', maxWidth: 1100 }}>
      <h1>A test run, with its browser live</h1>
      <VmliveProvider
        controllerUrl={params.controllerUrl}
        vmId={params.vmId}
        token={params.token}
        mode={params.mode}
        onDisplay={(d) => show(`display ${d.kind} (${d.reason.code})`)}
        onControl={(c) => show(`control ${c.text}`)}
        onError={(e) => show(`error ${e.code}: ${e.message}`)}
      >
        <div style={{ display: 'grid', gridTemplateColumns: 'minmax(0, 3fr) minmax(16rem, 1fr)', gap: '1rem' }}>
          <VmliveViewer />
          <TakeoverPanel label="This run's browser" />
        </div>
      </VmliveProvider>
      <h2>Events</h2>
      <pre role="log" aria-label="Viewer events" style={{ font: '12px/1.3 ui-monospace, monospace' }}>
        {events.join('\n')}
      </pre>
    </main>
  );
}

const root = document.getElementById('root');
if (!root) throw new Error('no #root');
createRoot(root).render(
  <StrictMode>
    <RunPage />
  </StrictMode>,
);
