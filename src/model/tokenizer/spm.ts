/**
 * SentencePiece BPE vocabularies (llama.cpp's 'llama' tokenizer model) carry scores, not
 * merges. SentencePiece merges the adjacent pair whose joined piece has the highest score;
 * the equivalent HF BPE merge list is every (left, right) split of every vocabulary piece,
 * ranked by the joined piece's score (the same construction HF's converters use).
 */
import { TokenType } from './token-types.ts';

export function mergesFromScores(
  vocab: readonly string[],
  scores: readonly number[],
  types: readonly number[],
): [string, string][] {
  const ids = new Map<string, number>();
  vocab.forEach((t, i) => {
    if (types[i] === TokenType.NORMAL || types[i] === undefined) if (!ids.has(t)) ids.set(t, i);
  });
  const merges: { left: string; right: string; score: number; id: number }[] = [];
  for (const [piece, id] of ids) {
    const chars = Array.from(piece);
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      const li = ids.get(left);
      const ri = ids.get(right);
      if (li !== undefined && ri !== undefined) merges.push({ left, right, score: scores[id] ?? 0, id });
    }
  }
  // Higher score first; ties by piece id, then by left-part id, for a stable order.
  merges.sort((a, b) => b.score - a.score || a.id - b.id || ids.get(a.left)! - ids.get(b.left)!);
  return merges.map((m) => [m.left, m.right]);
}
