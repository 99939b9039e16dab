/**
 * Distillation over the corpus (Seq-KD, the `ragspec distill` use case): for each corpus
 * passage the target writes one question the passage answers, then answers it in its own
 * words with the normal answer prompt and retrieval (prepareAnswer/completeAnswer). The
 * answer's tokens go into the history datastore, so later answers on the same topics find
 * the target's own wording to draft from.
 *
 * It reads ONLY corpus passages: no evaluation question (shared/eval or any other) is ever
 * fed to it, so measurements on held-out questions stay honest.
 *
 * Resumable and incremental: each answer is recorded together with its passage's done key
 * (`passageKey`: id + content hash) in one atomic history record, so after a kill the next
 * run skips every finished passage, and after an ingest only new or changed passages are
 * left to do. Passages are visited in a fixed order spread over the documents (by key hash),
 * so a small budget samples the whole corpus instead of its first document.
 */
import crypto from 'node:crypto';
import type { GenerationCallbacks, GenerationRequest, GenerationResult } from '../engine/types.ts';
import type { Passage } from '../retrieval/types.ts';
import { completeAnswer, prepareAnswer, type PassageSearch } from './answer.ts';

/** The question-writing prompt (greedy; the passage is the only content shown). */
export const QUESTION_PROMPT =
  'Write one question a user might ask that this passage answers. Reply with the question only.';

/** Where the passages come from (the corpus store). */
export interface PassageList {
  allPassageIds(): number[];
  passages(ids: readonly number[]): Passage[];
}

/** The engine side: generate (recording answers with their `historyMark`), and the history's done keys. */
export interface DistillTarget {
  generate(req: GenerationRequest, callbacks?: GenerationCallbacks): Promise<GenerationResult>;
  isDone(key: string): boolean;
  /** Record a done key with no answer (a passage the target wrote no question for). */
  markDone(key: string): void;
}

export interface DistillOptions {
  /** Most passages distilled in this run. */
  maxPassages?: number;
  /** Stop starting new passages after this long (the running one is cut at the deadline and redone next time). */
  maxMinutes?: number;
  /** Most answer tokens per passage (default 128). */
  maxTokens?: number;
  /** Most question tokens (default 48). */
  questionTokens?: number;
  /** Passages retrieved for the answer (default 4). */
  k?: number;
  /** Once at the start (done 0), then after each passage: done in this run, and the run's target. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface DistillSummary {
  /** Passages answered (and recorded) in this run. */
  distilled: number;
  /** Passages done by earlier runs. */
  alreadyDone: number;
  /** Passages left for later runs. */
  remaining: number;
  /** Passages whose question came out empty (recorded as done with no answer). */
  noQuestion: number;
  answerTokens: number;
  questionTokens: number;
  ms: number;
  stoppedBy: 'done' | 'max-passages' | 'max-minutes' | 'signal';
}

/** A passage's done key: its id and a hash of its text (a changed passage is distilled again). */
export function passageKey(p: Pick<Passage, 'id' | 'text'>): string {
  return `p${p.id}:${crypto.createHash('sha256').update(p.text).digest('hex').slice(0, 16)}`;
}

const BATCH = 256;

export async function distill(
  list: PassageList,
  search: PassageSearch,
  target: DistillTarget,
  opts: DistillOptions = {},
): Promise<DistillSummary> {
  const t0 = Date.now();
  const deadline = opts.maxMinutes === undefined ? Infinity : t0 + opts.maxMinutes * 60_000;
  const maxTokens = opts.maxTokens ?? 128;
  const ids = list.allPassageIds();
  // Keys need the text: read passages in batches, keep only what is not done yet.
  const todo: { p: Passage; key: string }[] = [];
  let alreadyDone = 0;
  for (let i = 0; i < ids.length; i += BATCH) {
    for (const p of list.passages(ids.slice(i, i + BATCH))) {
      const key = passageKey(p);
      if (target.isDone(key)) alreadyDone++;
      else todo.push({ p, key });
    }
  }
  todo.sort((a, b) => spread(a.key) - spread(b.key) || a.p.id - b.p.id);
  const total = Math.min(todo.length, opts.maxPassages ?? Infinity);
  const s: DistillSummary = {
    distilled: 0,
    alreadyDone,
    remaining: todo.length,
    noQuestion: 0,
    answerTokens: 0,
    questionTokens: 0,
    ms: 0,
    stoppedBy: 'done',
  };
  const timer = new AbortController();
  const onAbort = (): void => timer.abort();
  opts.signal?.addEventListener('abort', onAbort);
  const clock = Number.isFinite(deadline) ? setTimeout(onAbort, deadline - Date.now()) : null;
  opts.onProgress?.(0, total);
  try {
    for (const { p, key } of todo) {
      if (opts.signal?.aborted) {
        s.stoppedBy = 'signal';
        break;
      }
      if (Date.now() >= deadline) {
        s.stoppedBy = 'max-minutes';
        break;
      }
      if (s.distilled + s.noQuestion >= total) {
        s.stoppedBy = 'max-passages';
        break;
      }
      const cb = { signal: timer.signal };
      // 1. The target writes a question about the passage (not recorded: it is not an answer).
      const q = await target.generate(
        {
          messages: [{ role: 'user', content: `${QUESTION_PROMPT}\n\nPassage:\n${p.text.trim()}` }],
          passages: [p],
          maxTokens: opts.questionTokens ?? 48,
          sampling: { temperature: 0 },
          stop: ['\n'],
          mode: 'hybrid',
          recordHistory: false,
        },
        cb,
      );
      if (q.finishReason === 'cancelled') continue; // the deadline or a signal: redone next run
      s.questionTokens += q.tokens.length;
      const question = q.text.trim();
      if (!/\p{L}/u.test(question)) {
        // nothing to ask: done, with an empty answer, so it is not retried every run
        target.markDone(key);
        s.noQuestion++;
        s.remaining--;
        opts.onProgress?.(s.distilled + s.noQuestion, total);
        continue;
      }
      // 2. It answers in its own words, as for a user (retrieval, the answer prompt); the
      //    engine records the answer with the passage's done key in one history record.
      const prepared = await prepareAnswer(search, {
        question,
        k: opts.k ?? 4,
        maxTokens,
        sampling: { temperature: 0 },
        mode: 'hybrid',
      });
      const { result } = await completeAnswer(
        target,
        { ...prepared, request: { ...prepared.request, historyMark: key } },
        cb,
      );
      if (result.finishReason === 'cancelled') continue;
      s.distilled++;
      s.answerTokens += result.tokens.length;
      s.remaining--;
      opts.onProgress?.(s.distilled + s.noQuestion, total);
    }
  } finally {
    if (clock) clearTimeout(clock);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (s.stoppedBy === 'done' && s.distilled + s.noQuestion < todo.length) {
    s.stoppedBy = opts.signal?.aborted ? 'signal' : 'max-minutes';
  }
  s.ms = Date.now() - t0;
  return s;
}

/** A fixed pseudo-random rank from a key (spreads a small budget over the corpus). */
function spread(key: string): number {
  return crypto.createHash('sha256').update(key).digest().readUInt32LE(0);
}
