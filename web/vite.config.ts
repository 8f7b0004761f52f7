import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Vite 8 (rolldown + oxc) transforms TSX with the automatic JSX runtime itself,
// so @vitejs/plugin-react is not needed (we do not use Fast Refresh).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  resolve: {
    alias: { '@vmlive/protocol': fileURLToPath(new URL('../protocol/src/index.ts', import.meta.url)) },
  },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    // In development, point the viewer at a controller with ?api=... or proxy /api here.
    proxy: process.env.VMLIVE_CONTROLLER_URL ? { '/api': process.env.VMLIVE_CONTROLLER_URL } : undefined,
  },
});
