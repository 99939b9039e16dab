/**
 * The exact distribution of plain AR sampling over the first `depth` tokens, by walking
 * every token with p > 0 (only feasible on a tiny model with top-k/top-p): the reference
 * the chi-square tests compare speculative sampling against. Keys are comma-joined token
 * ids; a sequence ending at EOS is keyed by the tokens before it. Penalties, when set, are
 * applied to each row from its own context, exactly as decoding does.
 */
import type { Engine } from '../../src/engine/engine.ts';
import { hasPenalties, PenaltyBase, penalize } from '../../src/verify/penalties.ts';
import { targetDistribution, type SamplingSettings } from '../../src/verify/sampling.ts';

export async function exactArDistribution(
  engine: Engine,
  prompt: readonly number[],
  depth: number,
  s: SamplingSettings,
): Promise<Map<string, number>> {
  const eos = new Set(engine.tokenizer.eosIds);
  const out = new Map<string, number>();
  const walk = async (prefix: number[], mass: number): Promise<void> => {
    const ids = [...prompt, ...prefix];
    const r = await engine.target.forward(
      ids,
      ids.map((_, i) => i),
      null,
      engine.target.newCache(),
    );
    let row: ArrayLike<number> = r.data.subarray((r.rows - 1) * r.vocabSize, r.rows * r.vocabSize); // [V]
    if (hasPenalties(s))
      row = penalize(row, new PenaltyBase({ tokens: ids, promptLength: prompt.length }), [], s);
    const p = targetDistribution(row, s); // [V]
    for (let t = 0; t < p.length; t++) {
      if (!(p[t]! > 0)) continue;
      const key = prefix.join(',');
      if (eos.has(t)) out.set(key, (out.get(key) ?? 0) + mass * p[t]!);
      else if (prefix.length + 1 === depth) out.set([...prefix, t].join(','), mass * p[t]!);
      else await walk([...prefix, t], mass * p[t]!);
    }
  };
  await walk([], 1);
  return out;
}
