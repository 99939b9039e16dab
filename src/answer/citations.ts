/**
 * The one citation shape, for every caller (HTTP answers, chat completions' `ragspec`
 * extension, `ragspec ask --json`): every retrieved passage in prompt order, with the spans
 * of the answer that were copied from it.
 */
import type { GenerationResult } from '../engine/types.ts';
import type { ScoredPassage } from '../retrieval/types.ts';

export interface Citation {
  /** Document path in the corpus. */
  doc: string;
  doc_id: string;
  title: string;
  passage_id: number;
  /** 1-based number the passage carried in the prompt. */
  ref: number;
  heading_path: string[];
  text: string;
  score: number;
  /** Answer text copied from this passage: answer char span and source-document char span. */
  copied_spans: {
    answer_start: number;
    answer_end: number;
    source_start: number;
    source_end: number;
    text: string;
  }[];
}

export function citationsOf(
  passages: readonly ScoredPassage[],
  result: Pick<GenerationResult, 'copiedSpans'>,
): Citation[] {
  return passages.map((p, i) => ({
    doc: p.path,
    doc_id: p.docId,
    title: p.title,
    passage_id: p.id,
    ref: i + 1,
    heading_path: p.headingPath,
    text: p.text,
    score: p.scores.fused,
    copied_spans: result.copiedSpans
      .filter((s) => s.passageId === p.id)
      .map((s) => ({
        answer_start: s.answerStart,
        answer_end: s.answerEnd,
        source_start: s.sourceStart,
        source_end: s.sourceEnd,
        text: s.text,
      })),
  }));
}
