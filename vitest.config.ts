import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const alias = { '@vmlive/protocol': fileURLToPath(new URL('./protocol/src/index.ts', import.meta.url)) };

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['*/src/**/*.test.{ts,tsx}', 'scripts/lib/**/*.test.ts'],
          exclude: ['**/*.e2e.test.{ts,tsx}', '**/node_modules/**'],
          testTimeout: 15_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'e2e',
          include: ['*/src/**/*.e2e.test.{ts,tsx}', 'e2e/**/*.e2e.test.ts'],
          // Real Chromium, GStreamer and Xvfb on a 2-core machine: one file at a time.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias },
        test: {
          // Builds the golden image and boots VMs from it (rootfs/): root, minutes, one test at a time.
          name: 'vm',
          include: ['e2e/**/*.vm.test.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
