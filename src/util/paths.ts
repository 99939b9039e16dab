import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (where package.json lives). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Everything ragspec downloads, converts or indexes lives under one gitignored folder,
 * `.ragspec/` in the clone by default; RAGSPEC_HOME moves it.
 */
export function ragspecHome(): string {
  return path.resolve(process.env.RAGSPEC_HOME ?? path.join(repoRoot, '.ragspec'));
}

export const paths = {
  home: () => ragspecHome(),
  /** Downloaded package archives (wheels, jars). */
  downloads: () => path.join(ragspecHome(), 'downloads'),
  /** Extracted/converted models, one folder per model. */
  models: () => path.join(ragspecHome(), 'models'),
  /** The default target model folder (GGUF + ONNX graphs + tokenizer.json). */
  targetModel: () => path.join(ragspecHome(), 'models', 'smollm2-135m-instruct'),
  /** The sentence-embedding model folder (model.onnx + tokenizer.json). */
  embedder: () => path.join(ragspecHome(), 'models', 'all-minilm-l6-v2-q'),
  /** The default corpus store: SQLite database and HNSW index. */
  data: () => path.join(ragspecHome(), 'data'),
  /** Per-machine measurements (forward-cost curves). */
  cache: () => path.join(ragspecHome(), 'cache'),
};
