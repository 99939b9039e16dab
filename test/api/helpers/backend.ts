/**
 * The real generation backend for the API tests: the speculative Engine on the converted
 * SmolLM2-135M-Instruct, loaded once per test file. Missing assets fail the test (never skip)
 * with the command that creates them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GenerationBackend } from '../../../src/api/deps.ts';
import { loadEngineBackend } from '../../../src/api/runtime.ts';
import { paths } from '../../../src/util/paths.ts';

let shared: Promise<GenerationBackend> | null = null;

export function testBackend(): Promise<GenerationBackend> {
  const manifest = path.join(paths.targetModel(), 'ragspec-model.json');
  if (!fs.existsSync(manifest)) {
    throw new Error(
      `the converted target model is missing (${manifest}) — run \`npx ragspec setup\` first (set RAGSPEC_HOME if you moved it)`,
    );
  }
  shared ??= loadEngineBackend();
  return shared;
}

/** Servers in one test file share the backend; closing a server must not dispose it. */
export async function sharedBackend(): Promise<GenerationBackend> {
  const b = await testBackend();
  return {
    modelId: b.modelId,
    modes: b.modes,
    contextLength: b.contextLength,
    countPromptTokens: (r) => b.countPromptTokens(r),
    generate: (r, cb) => b.generate(r, cb),
  };
}
