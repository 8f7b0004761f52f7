import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Vite 8 (rolldown + oxc) transforms TSX with the automatic JSX runtime itself,
// so @vitejs/plugin-react is not needed (we do not use Fast Refresh).
// @vmlive/viewer and @vmlive/protocol resolve to their built packages (dist/, as published):
// these pages are built from the package embedders install. `npm run build` builds them first.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    // In development, point the viewer at a controller with ?api=... or proxy /api here.
    proxy: process.env.VMLIVE_CONTROLLER_URL ? { '/api': process.env.VMLIVE_CONTROLLER_URL } : undefined,
  },
});
