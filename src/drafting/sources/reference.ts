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
import { NgramIndex } from '../ngram-index.ts';
import type {
  DraftBudget,
  DraftCandidate,
  DraftContext,
  DraftOutcome,
  DraftSource,
  Provenance,
} from '../types.ts';

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
  /**
   * Running numbers shared across requests (DraftMemory keeps and persists one): this
   * drafter reads and updates them in place. Default: fresh priors.
   */
  learned?: ReferenceLearned;
}

/** What a ReferenceDrafter learns about the target, kept across requests and processes. */
export interface ReferenceLearned {
  /** Running share of drafted tokens accepted. */
  acceptance: number;
  /** Per `${kind}:${bucket}` (kind passage|prompt|output, bucket of the match length). */
  match: Record<string, MatchStats>;
}

export function freshReferenceLearned(): ReferenceLearned {
  return { acceptance: 0.5, match: {} };
}

interface SeqInfo {
  kind: 'passage' | 'context';
  passageId?: number;
}

const SOURCE_RANK: Record<'passage' | 'prompt' | 'output', number> = { passage: 0, prompt: 1, output: 2 };

/** Match-length buckets for acceptance statistics: n = 1, 2, 3, 4-5, 6+. */
const bucketOf = (n: number): number => (n <= 3 ? n : n <= 5 ? 4 : 5);

/**
 * Running acceptance per (source, match-length bucket): `first` = P(first token accepted),
 * `cont` = P(next token accepted | the previous one was). Priors before any evidence.
 */
export interface MatchStats {
  first: number;
  cont: number;
}
const PRIOR_FIRST = [0, 0.15, 0.3, 0.45, 0.55, 0.65];
const PRIOR_CONT = 0.7;
const EMA = 0.15;

export class ReferenceDrafter implements DraftSource {
  private readonly index: NgramIndex;
  private readonly info: SeqInfo[] = [];
  private readonly passageSeq = new Map<number, number>();
  private contextSeq = -1;
  private promptLength = 0;
  private readonly minN: number;
  private readonly hitsPerN: number;
  private readonly selfReference: boolean;
  private readonly learned: ReferenceLearned;
  /** Proposals of the last step and the context length then, to learn from what was accepted. */
  private last: { tokens: number[]; key: string }[] = [];
  private lastLen = 0;

  constructor(
    passages: readonly ReferencePassage[],
    tokenizer: { encode(text: string): number[] },
    opts: ReferenceDrafterOptions = {},
  ) {
    this.index = new NgramIndex(opts.maxN ?? 8);
    this.minN = Math.max(1, opts.minN ?? 1);
    this.hitsPerN = opts.hitsPerN ?? 16;
    this.selfReference = opts.selfReference ?? true;
    this.learned = opts.learned ?? freshReferenceLearned();
    for (const p of passages) {
      if (this.passageSeq.has(p.id)) continue;
      const tokens = tokenizer.encode(p.text);
      const seq = this.index.add(tokens);
      this.info.push({ kind: 'passage', passageId: p.id });
      this.passageSeq.set(p.id, seq);
    }
  }

  /** Running acceptance of this source (exponential average), for the budget and hybrid switch. */
  get acceptance(): number {
    return this.learned.acceptance;
  }

  /** Reference tokens indexed so far (passages + context). */
  get referenceTokens(): number {
    return this.index.seqs.reduce((a, s) => a + s.tokens.length, 0);
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
    if (ctx.tokens.length < own.length)
      throw new Error('reference drafter: the context shrank; use one drafter per request');
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
        const tokens = seqTokens.slice(start, stop);
        const st = this.stats(provenance.kind, n);
        group.push({
          tokens,
          provenance,
          confidence: st.first,
          acceptProbs: tokens.map((_, i) => (i === 0 ? st.first : st.cont)),
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
    const chosen = out.slice(0, budget.maxBranches);
    this.last = chosen.map((c) => ({ tokens: c.tokens, key: `${c.provenance.kind}:${bucketOf(c.n)}` }));
    this.lastLen = ctxTokens.length;
    return chosen.map(({ tokens, provenance, confidence, acceptProbs }) => ({
      tokens,
      provenance,
      confidence,
      acceptProbs,
    }));
  }

  private stats(kind: string, n: number): MatchStats {
    const key = `${kind}:${bucketOf(n)}`;
    let st = this.learned.match[key];
    if (!st) {
      st = { first: PRIOR_FIRST[bucketOf(n)]!, cont: PRIOR_CONT };
      this.learned.match[key] = st;
    }
    return st;
  }

  private provenanceOf(seq: number, start: number): Provenance {
    const info = this.info[seq]!;
    if (info.kind === 'passage') return { kind: 'passage', passageId: info.passageId!, offset: start };
    return start < this.promptLength
      ? { kind: 'prompt', offset: start }
      : { kind: 'output', offset: start - this.promptLength };
  }

  observe(outcome: DraftOutcome): void {
    // Learn per match length from what the target actually emitted (accepted + bonus):
    // a proposal "would have been accepted" for as long as it agrees with that.
    const emitted = outcome.context.slice(this.lastLen);
    for (const p of this.last) {
      const st = this.learned.match[p.key];
      if (!st || emitted.length === 0) continue;
      let m = 0;
      while (m < p.tokens.length && m < emitted.length && p.tokens[m] === emitted[m]) m++;
      st.first += EMA * ((m >= 1 ? 1 : 0) - st.first);
      // continuation evidence: positions 1..m (hits) and the miss at m, when observable
      for (let j = 1; j <= m && j < p.tokens.length && j < emitted.length; j++)
        st.cont += EMA * ((j < m ? 1 : 0) - st.cont);
    }
    this.last = [];
    if (outcome.draftTokens === 0) return;
    // Share of drafted tokens accepted, smoothed over recent steps.
    const rate = outcome.acceptedTokens / outcome.draftTokens;
    this.learned.acceptance = 0.7 * this.learned.acceptance + 0.3 * rate;
  }
}
