/**
 * Repetition penalties as a logits processor that stays lossless under speculation.
 *
 * Semantics (which tokens count, stated once):
 * - `frequencyPenalty` f and `presencePenalty` r (OpenAI): over the GENERATED tokens only
 *   (the output so far, drafts on the node's path included; not the prompt),
 *   logit[t] -= f · count(t) + r · [count(t) > 0]. Range −2..2.
 * - `repetitionPenalty` ρ (CTRL / Hugging Face): over PROMPT + GENERATED tokens, every token
 *   t that occurred at least once: logit[t] = logit[t] / ρ if logit[t] > 0, else logit[t] · ρ.
 *   ρ > 0; 1 = off.
 * The frequency/presence part is applied first, then the repetition part (one fixed order:
 * the function is the same in every mode).
 *
 * Lossless: a tree node's row is the target's logits for the token after that node, so its
 * penalty must come from the context along THAT node's path — prompt + output so far + the
 * node's draft ancestors (the root is the context's last token, already counted). AR is the
 * root-only tree, so AR and speculative decoding apply the identical function to the same
 * context. The context is counted once per step (`PenaltyBase`); each node adds the few
 * tokens on its path (trees are small).
 */
import type { SamplingSettings } from './sampling.ts';

/** The context a step's logits continue: prompt + output so far (the tree root is its last token). */
export interface PenaltyContext {
  tokens: readonly number[];
  promptLength: number;
}

export function hasPenalties(s: SamplingSettings): boolean {
  return (
    (s.frequencyPenalty ?? 0) !== 0 || (s.presencePenalty ?? 0) !== 0 || (s.repetitionPenalty ?? 1) !== 1
  );
}

/** Token counts of a context, counted once per step. */
export class PenaltyBase {
  /** count of each token among the generated tokens */
  readonly generated = new Map<number, number>();
  /** tokens seen anywhere (prompt or generated) */
  readonly seen = new Set<number>();

  constructor(ctx: PenaltyContext) {
    const { tokens, promptLength } = ctx;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      this.seen.add(t);
      if (i >= promptLength) this.generated.set(t, (this.generated.get(t) ?? 0) + 1);
    }
  }
}

/**
 * Penalised copy of one logits row, for a context = base + `extra` generated tokens.
 * @param row   [V] raw target logits
 * @param extra generated tokens after the base context (a node's draft ancestors and itself)
 * @returns     [V] new array; `row` is not modified
 */
export function penalize(
  row: ArrayLike<number>,
  base: PenaltyBase,
  extra: readonly number[],
  s: SamplingSettings,
): Float32Array {
  const out = Float32Array.from(row);
  const f = s.frequencyPenalty ?? 0;
  const r = s.presencePenalty ?? 0;
  const rho = s.repetitionPenalty ?? 1;
  let counts: Map<number, number> = base.generated;
  if (extra.length > 0) {
    counts = new Map(base.generated);
    for (const t of extra) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  if (f !== 0 || r !== 0) for (const [t, c] of counts) if (t < out.length) out[t]! -= f * c + r;
  if (rho !== 1) {
    const touch = (t: number): void => {
      if (t >= out.length) return;
      const v = out[t]!;
      out[t] = v > 0 ? v / rho : v * rho;
    };
    for (const t of base.seen) touch(t);
    for (const t of new Set(extra)) if (!base.seen.has(t)) touch(t);
  }
  return out;
}

/**
 * Per-node penalised rows of a tree, computed on demand.
 * @param tokens  [N] tree tokens, node 0 = root (already the context's last token)
 * @param parents [N] parent per node, −1 for the root
 */
export function nodePenalizer(
  tokens: readonly number[],
  parents: readonly number[],
  ctx: PenaltyContext,
  s: SamplingSettings,
): (node: number, row: ArrayLike<number>) => ArrayLike<number> {
  if (!hasPenalties(s)) return (_node, row) => row;
  const base = new PenaltyBase(ctx);
  return (node, row) => penalize(row, base, draftPath(tokens, parents, node), s);
}

/** Draft tokens from the root's first child down to `node` (root excluded). */
export function draftPath(tokens: readonly number[], parents: readonly number[], node: number): number[] {
  const out: number[] = [];
  for (let a = node; a > 0; a = parents[a]!) out.push(tokens[a]!);
  return out.reverse();
}
