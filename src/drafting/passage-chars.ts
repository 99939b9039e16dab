/**
 * Passage token → character offsets, for citations: accepted draft tokens carry the token
 * offset they were copied from (their provenance), and attribution needs the characters.
 * Passages are tokenized with the same tokenizer the reference drafter uses, so the token
 * offsets agree; only passages that are asked about are tokenized.
 */
import { tokenCharOffsets } from './offsets.ts';
import type { ReferencePassage } from './sources/reference.ts';

export class PassageCharIndex {
  private readonly text = new Map<number, string>();
  /** [n+1] char offset of each token in the passage text, per passage id (filled on demand). */
  private readonly offsets = new Map<number, Int32Array>();

  constructor(
    passages: readonly ReferencePassage[],
    private readonly tokenizer: { encode(text: string): number[]; decode(ids: readonly number[]): string },
  ) {
    for (const p of passages) if (!this.text.has(p.id)) this.text.set(p.id, p.text);
  }

  /** [start, end) characters in the passage text of tokens [from, to) of that passage. */
  passageChars(passageId: number, from: number, to: number): [number, number] | null {
    const offs = this.offsetsOf(passageId);
    if (!offs || from < 0 || to > offs.length - 1 || from >= to) return null;
    return [offs[from]!, offs[to]!];
  }

  private offsetsOf(passageId: number): Int32Array | null {
    const cached = this.offsets.get(passageId);
    if (cached) return cached;
    const text = this.text.get(passageId);
    if (text === undefined) return null;
    const offs = tokenCharOffsets(this.tokenizer.encode(text), (ids) => this.tokenizer.decode(ids));
    this.offsets.set(passageId, offs);
    return offs;
  }
}
