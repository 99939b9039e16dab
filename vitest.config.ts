import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real-model tests load a 135M-parameter model; give them room on 2 cores.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // Each file loads its own onnxruntime sessions; two workers match the 2-core machine.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    fileParallelism: true,
  },
});
