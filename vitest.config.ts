import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const lib = (path: string): string => fileURLToPath(new URL(`./lib/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // examples/ import the package by name, as a user's code would (tsconfig.json `paths` does the same for tsc)
    alias: [
      { find: /^otsflow\/testing$/, replacement: lib('testing/index.ts') },
      { find: /^otsflow$/, replacement: lib('index.ts') },
    ],
  },
  test: {
    include: ['spec/**/*.spec.ts', 'examples/**/*.spec.ts'],
    benchmark: { include: ['spec/bench/**/*.bench.ts'] },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // two files at a time even on 2 cores (vitest's default there is one): most specs wait on
    // processes, sockets and timers, not the CPU; a spec's time bounds are generous for this
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
