/**
 * The argument checks of one forward (alone or as a part of a batch): a wrong token id,
 * position, mask size or logit row is named here instead of failing deep inside onnxruntime.
 */
import { RagspecError } from '../../util/errors.ts';
import type { LlamaConfig } from '../types.ts';

export function checkForward(
  config: LlamaConfig,
  tokens: readonly number[],
  positions: readonly number[],
  mask: Float32Array | null,
  past: number,
  rows: readonly number[] | null,
): void {
  const s = tokens.length;
  const total = past + s;
  const v = config.vocabSize;
  if (s === 0) throw new RagspecError('forward: no tokens', { code: 'bad_forward' });
  if (positions.length !== s)
    throw new RagspecError(`forward: ${s} tokens but ${positions.length} positions`, {
      code: 'bad_forward',
    });
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= v)
      throw new RagspecError(`forward: token id ${t} is outside the vocabulary 0..${v - 1}`, {
        code: 'bad_forward',
      });
  }
  for (const q of positions) {
    if (!Number.isInteger(q) || q < 0 || q >= config.contextLength) {
      throw new RagspecError(`forward: position ${q} is outside the context 0..${config.contextLength - 1}`, {
        code: 'bad_forward',
      });
    }
  }
  if (mask && mask.length !== s * total) {
    throw new RagspecError(`forward: mask has ${mask.length} values, expected S×(P+S) = ${s}×${total}`, {
      code: 'bad_forward',
    });
  }
  if (rows) {
    for (const r of rows)
      if (!Number.isInteger(r) || r < 0 || r >= s)
        throw new RagspecError(`forward: logit row ${r} is outside 0..${s - 1}`, { code: 'bad_forward' });
  }
}
