/** ragspec's side of the peer benchmark: one `Engine.generate` timed the way llama.cpp's is. */
import type { Engine } from '../src/engine/engine.ts';
import type { ChatMessage, DecodeMode } from '../src/engine/types.ts';
import type { ScoredPassage } from '../src/retrieval/types.ts';
import type { TimedRun } from './peer-report.ts';

export async function runRagspec(
  engine: Engine,
  req: { messages: ChatMessage[]; passages: ScoredPassage[] },
  mode: DecodeMode,
  maxTokens: number,
): Promise<TimedRun> {
  // Every run prefills the whole prompt: the prefix cache would hand later modes the
  // previous mode's KV cache (llama.cpp's sequence is cleared before each run too).
  engine.prefixCache.clear();
  let tFirst = NaN;
  const t0 = performance.now();
  const r = await engine.generate(
    { ...req, maxTokens, sampling: { temperature: 0 }, mode },
    {
      onStep: (s) => {
        if (Number.isNaN(tFirst) && s.emitted > 0) tFirst = performance.now();
      },
    },
  );
  const s = r.stats;
  return {
    decode_tok_s: s.decodeTokensPerSecond,
    prefill_tok_s: s.timeMs.prefill > 0 ? ((s.promptTokens - 1) * 1000) / s.timeMs.prefill : 0,
    ttft_ms: tFirst - t0,
    tokens_per_forward: s.steps > 0 ? s.tokensPerStep : null,
    text: r.text,
    tokens: r.tokens,
  };
}
