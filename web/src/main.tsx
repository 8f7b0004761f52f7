import './csp.js';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { OperatorConsole } from './operator/OperatorConsole.js';
import { parseRoute } from './pages/route.js';
import { ViewerPage } from './pages/ViewerPage.js';
import '@vmlive/viewer/style.css';
import './styles.css';

function App() {
  const route = parseRoute(window.location);
  switch (route.page) {
    case 'viewer':
      return <ViewerPage baseUrl={route.baseUrl} vmId={route.vmId} token={route.token} />;
    case 'viewer-error':
      return (
        <main className="console">
          <h1>Cannot open this viewer link</h1>
          <p role="alert">{route.message}</p>
        </main>
      );
    case 'console':
      return <OperatorConsole baseUrl={route.baseUrl} />;
  }
}

const root = document.getElementById('root');
if (!root) throw new Error('#root missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
