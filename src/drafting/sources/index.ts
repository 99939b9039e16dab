/**
 * The one factory from a decode mode to its draft sources, in the order the planner asks
 * them (after transformers' `_get_candidate_generator`):
 * - `ar`: none (a root-only tree every step);
 * - `reference`: spans copied from the passages, the prompt and the output so far;
 * - `model`: the drafter model alone;
 * - `hybrid`: references and the history datastore (the target's past outputs, merged by
 *   confidence); where they have nothing, token recycling (the target's own recent top-k),
 *   then the drafter model when one is loaded and it pays for itself.
 * A fresh ReferenceDrafter per request (it indexes that request's passages); the drafter
 * model is shared across requests and only reset.
 */
import type { HistoryStore } from '../history/store.ts';
import type { DecodeMode } from '../modes.ts';
import type { PlannedSource } from '../types.ts';
import { HistoryDrafter } from './history.ts';
import { DraftMemory } from '../memory.ts';
import type { ModelDrafter } from './model.ts';
import { RecyclingDrafter } from './recycling.ts';
import { ReferenceDrafter, type ReferencePassage } from './reference.ts';

export interface SourceDeps {
  /** The request's passages (draft references). */
  passages: readonly ReferencePassage[];
  tokenizer: { encode(text: string): number[]; decode(ids: readonly number[]): string };
  /** The loaded drafter model, if any. */
  drafter: ModelDrafter | null;
  /** The history datastore, if one is loaded (hybrid drafts from it). */
  history?: HistoryStore | null;
  /** What the sources learned across requests (default: this request only). */
  memory?: DraftMemory;
}

export function draftSourcesFor(mode: DecodeMode, deps: SourceDeps): PlannedSource[] {
  const sources: PlannedSource[] = [];
  const memory = deps.memory ?? new DraftMemory();
  if (mode === 'reference' || mode === 'hybrid')
    sources.push({
      source: new ReferenceDrafter(deps.passages, deps.tokenizer, { learned: memory.reference }),
    });
  if (mode === 'hybrid' && deps.history) sources.push({ source: new HistoryDrafter(deps.history) });
  if (mode === 'hybrid')
    sources.push({ source: new RecyclingDrafter(memory.table, memory.recycling), fallback: true });
  if ((mode === 'model' || mode === 'hybrid') && deps.drafter) {
    deps.drafter.reset(); // a new request: its KV cache and rng start over
    sources.push({ source: deps.drafter, fallback: mode === 'hybrid' });
  }
  return sources;
}
