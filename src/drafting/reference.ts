/**
 * ReferenceDrafter: proposes continuations copied from reference token sequences — the
 * retrieved passages, the prompt and the output so far (prompt lookup decoding, extended to
 * several references and several branches).
 *
 * Each step it matches the longest suffix of the context (n from maxN down to minN) in an
 * n-gram index and proposes what followed each match, up to maxDepth tokens. Branches are
 * ranked by match length, then by how many matches agree on the next token, then by source
 * (passage before prompt before output, so a copied passage span keeps its attribution),
 * then by recency.
 */
import type { DraftSourceKind } from '../engine/types.ts';
import { NgramIndex } from './ngram-index.ts';
import { tokenCharOffsets } from './offsets.ts';
import type { DraftBudget, DraftCandidate, DraftContext, DraftOutcome, DraftSource, Provenance } from './types.ts';

export interface ReferencePassage {
  id: number;
  /** The passage text (its character offsets are what attribution reports). */
  text: string;
}

export interface ReferenceDrafterOptions {
  /** Longest n-gram matched (default 8). */
  maxN?: number;
  /** Shortest n-gram matched (default 1). */
  minN?: number;
  /** Most match positions looked at per n (default 16). */
  hitsPerN?: number;
  /** Index the prompt and the output as references too (default true). */
  selfReference?: boolean;
}

interface SeqInfo {
  kind: 'passage' | 'context';
  passageId?: number;
  /** [n+1] char offsets of each token in the passage text (passages only). */
  charOffsets?: Int32Array;
}

const SOURCE_RANK: Record<'passage' | 'prompt' | 'output', number> = { passage: 0, prompt: 1, output: 2 };

export class ReferenceDrafter implements DraftSource {
  readonly kind: DraftSourceKind = 'passage';
  readonly name = 'reference';
  private readonly index: NgramIndex;
  private readonly info: SeqInfo[] = [];
  private readonly passageSeq = new Map<number, number>();
  private contextSeq = -1;
  private promptLength = 0;
  private readonly minN: number;
  private readonly hitsPerN: number;
  private readonly selfReference: boolean;
  /** Running acceptance of this source (exponential average), for the budget and hybrid switch. */
  acceptance = 0.5;

  constructor(
    passages: readonly ReferencePassage[],
    tokenizer: { encode(text: string): number[]; decode(ids: readonly number[]): string },
    opts: ReferenceDrafterOptions = {},
  ) {
    this.index = new NgramIndex(opts.maxN ?? 8);
    this.minN = Math.max(1, opts.minN ?? 1);
    this.hitsPerN = opts.hitsPerN ?? 16;
    this.selfReference = opts.selfReference ?? true;
    for (const p of passages) {
      if (this.passageSeq.has(p.id)) continue;
      const tokens = tokenizer.encode(p.text);
      const seq = this.index.add(tokens);
      this.info.push({ kind: 'passage', passageId: p.id, charOffsets: tokenCharOffsets(tokens, (ids) => tokenizer.decode(ids)) });
      this.passageSeq.set(p.id, seq);
    }
  }

  /** Reference tokens indexed so far (passages + context). */
  get referenceTokens(): number {
    return this.index.seqs.reduce((a, s) => a + s.tokens.length, 0);
  }

  /** [start, end) characters in the passage text of tokens [from, to) of that passage. */
  passageChars(passageId: number, from: number, to: number): [number, number] | null {
    const seq = this.passageSeq.get(passageId);
    if (seq === undefined) return null;
    const offs = this.info[seq]!.charOffsets!;
    if (from < 0 || to > offs.length - 1 || from >= to) return null;
    return [offs[from]!, offs[to]!];
  }

  /** Bring the context reference up to date (append-only; a different context restarts it). */
  private sync(ctx: DraftContext): void {
    if (!this.selfReference) return;
    if (this.contextSeq < 0) {
      this.contextSeq = this.index.add([...ctx.tokens]);
      this.info.push({ kind: 'context' });
      this.promptLength = ctx.promptLength;
      return;
    }
    const own = this.index.seqs[this.contextSeq]!.tokens;
    if (ctx.tokens.length < own.length) throw new Error('reference drafter: the context shrank; use one drafter per request');
    for (let i = own.length; i < ctx.tokens.length; i++) own.push(ctx.tokens[i]!);
    this.index.extend(this.contextSeq);
  }

  propose(ctx: DraftContext, budget: DraftBudget): DraftCandidate[] {
    this.sync(ctx);
    if (budget.maxTokens <= 0 || budget.maxDepth <= 0 || budget.maxBranches <= 0) return [];
    const ctxTokens = ctx.tokens;
    const seen = new Set<number>(); // packed (seq, end) already used by a longer n
    type Scored = DraftCandidate & { n: number; votes: number; rank: number; recency: number };
    const out: Scored[] = [];
    for (let n = Math.min(this.index.maxN, ctxTokens.length); n >= this.minN; n--) {
      const hits = this.index.lookup(ctxTokens, n, this.hitsPerN);
      const group: Scored[] = [];
      for (const hit of hits) {
        const key = hit.seq * 2 ** 21 + hit.end;
        if (seen.has(key)) continue;
        seen.add(key);
        const seqTokens = this.index.seqs[hit.seq]!.tokens;
        const start = hit.end + 1;
        // The context's own last position matches itself and has no continuation.
        const stop = Math.min(seqTokens.length, start + budget.maxDepth);
        if (start >= stop) continue;
        const provenance = this.provenanceOf(hit.seq, start);
        group.push({
          tokens: seqTokens.slice(start, stop),
          provenance,
          confidence: 1 - 0.6 ** n,
          n,
          votes: 0,
          rank: SOURCE_RANK[provenance.kind as 'passage' | 'prompt' | 'output'],
          recency: hit.end,
        });
      }
      const votes = new Map<number, number>();
      for (const c of group) votes.set(c.tokens[0]!, (votes.get(c.tokens[0]!) ?? 0) + 1);
      for (const c of group) c.votes = votes.get(c.tokens[0]!)!;
      group.sort((a, b) => b.votes - a.votes || a.rank - b.rank || b.recency - a.recency);
      out.push(...group);
      if (out.length >= budget.maxBranches) break;
    }
    return out.slice(0, budget.maxBranches).map(({ tokens, provenance, confidence }) => ({ tokens, provenance, confidence }));
  }

  private provenanceOf(seq: number, start: number): Provenance {
    const info = this.info[seq]!;
    if (info.kind === 'passage') return { kind: 'passage', passageId: info.passageId!, offset: start };
    return start < this.promptLength ? { kind: 'prompt', offset: start } : { kind: 'output', offset: start - this.promptLength };
  }

  observe(outcome: DraftOutcome): void {
    if (outcome.draftTokens === 0) return;
    // Share of drafted tokens accepted, smoothed over recent steps.
    const rate = outcome.acceptedTokens / outcome.draftTokens;
    this.acceptance = 0.7 * this.acceptance + 0.3 * rate;
  }
}
