/**
 * Test double for the crash test: runs the real `ragspec` CLI with a pause injected into
 * every corpus commit, between the index file's rename and the SQLite commit, which widens
 * the window a SIGKILL can hit. The pause wraps `VectorIndex.writeGeneration`, the last
 * step before the SQLite commit, so production code carries no test hook.
 *
 *   node bin/run-ts.js test/retrieval/commit-pause-cli.ts <pause ms> <ragspec args...>
 */
import { VectorIndex } from '../../src/retrieval/vector-index.ts';

const pauseMs = Number(process.argv[2]);
const writeGeneration = VectorIndex.prototype.writeGeneration;
VectorIndex.prototype.writeGeneration = function (this: VectorIndex, ...args) {
  const written = writeGeneration.apply(this, args);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
  return written;
};
process.argv = [process.argv[0]!, process.argv[1]!, ...process.argv.slice(3)];
await import('../../src/cli/main.ts');
