/**
 * The generation backend the API tests run on. TEMPORARY: the scripted backend stands in
 * until the engine's loader lands; then this returns the real model (loaded once per file).
 */
import type { GenerationBackend } from '../../../src/api/deps.ts';
import { ScriptedBackend } from './scripted-backend.ts';

export async function testBackend(): Promise<GenerationBackend> {
  return new ScriptedBackend();
}
