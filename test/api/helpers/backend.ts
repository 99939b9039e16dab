/**
 * The generation backend the API tests run on. TEMPORARY: the scripted backend stands in
 * until the engine's loader lands; then this returns the real model (loaded once per file).
 */
import type { GenerationBackend } from '../../../src/api/deps.ts';
import { ScriptedBackend } from './scripted-backend.ts';

export async function testBackend(opts: { long?: boolean } = {}): Promise<GenerationBackend> {
  if (opts.long) return new ScriptedBackend(Array.from({ length: 400 }, (_, i) => `w${i}`), 5);
  return new ScriptedBackend();
}
