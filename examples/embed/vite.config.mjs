import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Vite 8 (rolldown + oxc) compiles TSX with React's automatic JSX runtime itself, so no plugin is
// needed. Two pages: the React app (index.html) and the custom element (element.html).
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('index.html', import.meta.url)),
        element: fileURLToPath(new URL('element.html', import.meta.url)),
      },
    },
  },
});
