// Builds the package's JavaScript and CSS into dist/ with Vite 8's library mode; the .d.ts files
// come from `tsc -b` (run first by `npm run build`), so this leaves them alone.
//   dist/index.js, dist/element.js (+ dist/chunks/): ESM for bundlers, not minified (the app's
//     bundler does that). React and @vmlive/protocol stay imports: React is a peer; the protocol is
//     a dependency, so an app that also uses ApiClient has one copy and `instanceof ApiError` holds.
//   dist/vmlive-viewer.js: the <vmlive-viewer> element with everything inlined and minified, for a
//     plain <script type="module"> on a page without a bundler.
//   dist/style.css: the components' styles (the element carries its own inside its shadow root).
// Vite (rolldown) rather than esbuild: it tree-shakes zod's `z.*` namespace, so the standalone file
// is 170 KB (49 KB gzipped) where esbuild's was 528 KB (117 KB), nearly all of it zod's locales.
import { readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const dist = `${root}dist`;

// Old bundles go (their chunk names change); tsc's declarations stay.
await rm(`${dist}/chunks`, { recursive: true, force: true });
for (const name of await readdir(dist).catch(() => [])) {
  if (name.endsWith('.js') || name.endsWith('.css')) await rm(`${dist}/${name}`);
}

const common = { root, configFile: false, logLevel: 'warn', publicDir: false };

await build({
  ...common,
  build: {
    outDir: dist,
    emptyOutDir: false,
    minify: false,
    sourcemap: false,
    target: 'es2022',
    lib: {
      entry: { index: 'src/index.ts', element: 'src/element.ts' },
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
      cssFileName: 'style',
    },
    rolldownOptions: {
      external: (id) => id === 'react' || id.startsWith('react/') || id === '@vmlive/protocol',
      output: { chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
});

await build({
  ...common,
  build: {
    outDir: dist,
    emptyOutDir: false,
    minify: true,
    sourcemap: false,
    target: 'es2022',
    lib: { entry: 'src/element.ts', formats: ['es'], fileName: () => 'vmlive-viewer.js' },
  },
});
