import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The real-model files that take minutes, longest first (seconds on CI's 2-core machine,
 * December). Vitest's own order on a fresh clone (no results cache) is "larger files first",
 * which ran these small files last: the two lossless parts started after everything else
 * and the suite took 23 minutes with one worker idle for most of the end. Starting them
 * first lets the short files fill the other worker.
 */
const HEAVY_FIRST = [
  'test/engine/real-model-lossless-1.test.ts', // ~560 s
  'test/engine/real-model-lossless-2.test.ts', // ~460 s
  'test/engine/real-model-lossless-history.test.ts',
  'test/engine/real-model-batching.test.ts',
  'test/model/real-model.test.ts',
];

class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = HEAVY_FIRST.findIndex((h) => f.moduleId.replaceAll('\\', '/').endsWith(h));
      return i === -1 ? HEAVY_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

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
    sequence: { sequencer: HeavyFirstSequencer },
  },
});
