/**
 * Assembling an Engine: the converted target model and its tokenizer, the drafter model
 * when one is asked for (a user's independent drafter that shares the tokenizer, or for
 * experiments the layer-subset self-drafter, converted from the target's GGUF on first
 * use), the target's forward-cost curve for the budget, and the draft memory (what the
 * sources learned in earlier runs, under paths.cache()).
 *
 *   const engine = await loadEngine();   // target from paths.targetModel(), no drafter model
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BudgetOptions } from '../drafting/budget.ts';
import { HistoryStore } from '../drafting/history/store.ts';
import { DraftMemory } from '../drafting/memory.ts';
import { ModelDrafter } from '../drafting/sources/model.ts';
import { convertGguf } from '../model/convert.ts';
import { loadCausalLM, loadModelTokenizer } from '../model/load.ts';
import type { ExecutionProvider } from '../model/onnx/session.ts';
import type { TextTokenizer } from '../model/tokenizer/tokenizer.ts';
import { RagspecError } from '../util/errors.ts';
import { paths } from '../util/paths.ts';
import { cachedCostCurve, measureCostCurve, type CostCurve } from './cost-curve.ts';
import { Engine, SELF_DRAFT_VARIANT, type EngineHistory } from './engine.ts';

export interface EngineLoadOptions {
  /** Target model folder (converted) — default `paths.targetModel()`. */
  model?: string;
  /** Variant of the target folder (default: int4, else fp32). */
  variant?: string;
  /**
   * Drafter model: 'none' (default: passages, the output, the history and token recycling
   * draft); a path to an independent converted folder that shares the target's tokenizer;
   * or 'self' (alias 'auto') = the layer-subset variant `draft-int4` of the target folder,
   * built on first use — measured at 2.6% agreement, so for experiments only.
   */
  drafter?: 'none' | 'self' | 'auto' | string;
  /** Variant of the drafter folder when `drafter` is a path. */
  drafterVariant?: string;
  device?: ExecutionProvider;
  threads?: number;
  /** Use (and if missing, measure) the forward-cost curve for the draft budget. Default true. */
  costCurve?: boolean;
  /** Defaults for the draft budget. */
  budget?: BudgetOptions;
  /**
   * The history datastore (hybrid drafts from the target's past outputs): the folder it
   * lives in (the data dir, beside the corpus), whether finished generations are added
   * (default true), and its size bound. Absent: no history (tests, benchmarks by default).
   */
  history?: { dir: string; record?: boolean; maxTokens?: number; onLocked?: 'read-only' | 'throw' };
  /**
   * Keep what the draft sources learn in a file under paths.cache() (one per target model
   * and variant), read at load and written after each request. Default true; false = this
   * process only (tests).
   */
  memory?: boolean;
  /**
   * Continuous batching: up to this many generations per target forward (default 1: one at
   * a time). Needs a graph that takes a batch (`capabilities.batch`), else stays 1.
   */
  maxBatch?: number;
  /** With batching: prompt chunks prefilled per step, oldest first (default 1; 0 lockstep). */
  prefillChunksPerTick?: number;
}

/**
 * Layers of the self-drafting model. Measured on the dev set (docs/BENCHMARKS.md, Engine):
 * no truncated layer subset of SmolLM2-135M agrees with the full model often enough to pay
 * for itself (top-1 agreement 3% with 6 layers, 10% with 15), so we keep the cheapest one;
 * hybrid mode only probes it when the passages offer nothing.
 */
export const DEFAULT_DRAFT_LAYERS = [0, 1, 2, 3, 4, 5];

export async function loadEngine(opts: EngineLoadOptions = {}): Promise<Engine> {
  const dir = opts.model ?? paths.targetModel();
  const session = { device: opts.device, threads: opts.threads };
  const target = await loadCausalLM(dir, { ...session, variant: opts.variant });
  const tokenizer = loadModelTokenizer(dir);
  let drafter: ModelDrafter | null = null;
  const which = opts.drafter ?? 'none';
  if (which === 'self' || which === 'auto') {
    // The self-drafting model is built from the target's GGUF on first use (a few seconds).
    const gguf = path.join(dir, 'model.gguf');
    if (
      !hasVariant(dir, SELF_DRAFT_VARIANT) &&
      hasVariant(dir, opts.variant ?? 'int4') &&
      fs.existsSync(gguf)
    ) {
      await convertGguf(gguf, dir, {
        weights: 'int4',
        layers: DEFAULT_DRAFT_LAYERS,
        name: SELF_DRAFT_VARIANT,
      });
    }
    if (hasVariant(dir, SELF_DRAFT_VARIANT)) {
      const lm = await loadCausalLM(dir, { ...session, variant: SELF_DRAFT_VARIANT });
      drafter = new ModelDrafter(lm, { name: `self-${lm.config.numLayers}L`, eosIds: tokenizer.eosIds });
    }
  } else if (which !== 'none') {
    const other = loadModelTokenizer(which);
    assertSameTokenizer(tokenizer, other, which);
    const lm = await loadCausalLM(which, { ...session, variant: opts.drafterVariant });
    if (lm.config.vocabSize !== target.config.vocabSize) {
      throw new RagspecError(
        `drafter ${which} has a ${lm.config.vocabSize}-token vocabulary, the target ${target.config.vocabSize}`,
        { code: 'tokenizer_mismatch', hint: 'a drafter must share the target model’s tokenizer' },
      );
    }
    drafter = new ModelDrafter(lm, { name: path.basename(which), eosIds: tokenizer.eosIds });
  }
  let curve: CostCurve | null = null;
  if (opts.costCurve ?? true) {
    const key = `${dir}|${opts.variant ?? 'default'}|${target.config.numLayers}|${opts.device ?? 'cpu'}|${opts.threads ?? 0}`;
    curve = cachedCostCurve(key) ?? (await measureCostCurve(target, key));
  }
  const memoryFile =
    (opts.memory ?? true) ? memoryPath(`${path.resolve(dir)}|${opts.variant ?? 'default'}`) : null;
  return new Engine(
    target,
    tokenizer,
    drafter,
    curve,
    opts.budget,
    openHistory(opts.history),
    DraftMemory.open(memoryFile),
    { maxBatch: opts.maxBatch, prefillChunksPerTick: opts.prefillChunksPerTick },
  );
}

/** The draft memory file of one target (model folder + variant). */
export function memoryPath(key: string): string {
  const h = crypto.createHash('sha256').update(key).digest('hex').slice(0, 16);
  return path.join(paths.cache(), `draft-memory-${h}.json`);
}

function openHistory(h: EngineLoadOptions['history']): EngineHistory | null {
  if (!h) return null;
  const record = h.record ?? true;
  const store = HistoryStore.open(h.dir, { maxTokens: h.maxTokens, readOnly: !record, onLocked: h.onLocked });
  if (store.lockedBy !== null)
    process.stderr.write(
      `ragspec: another process (${store.lockedBy}) is writing the history in ${h.dir}; this one drafts from it without adding to it\n`,
    );
  return { store, record };
}

function hasVariant(dir: string, variant: string): boolean {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'ragspec-model.json'), 'utf8')) as {
      variants?: Record<string, unknown>;
    };
    return Boolean(m.variants?.[variant]);
  } catch {
    return false;
  }
}

/** A drafter must map the same ids to the same strings, or its drafts mean nothing. */
export function assertSameTokenizer(target: TextTokenizer, drafter: TextTokenizer, where: string): void {
  const bad = (why: string): never => {
    throw new RagspecError(`drafter ${where} does not share the target's tokenizer: ${why}`, {
      code: 'tokenizer_mismatch',
      kind: 'bad_input',
      hint: 'pick a drafter converted from the same model family (same tokenizer.json), or use --drafter none',
    });
  };
  if (target.vocabSize !== drafter.vocabSize) bad(`${drafter.vocabSize} tokens vs ${target.vocabSize}`);
  for (let id = 0; id < target.vocabSize; id++) {
    if (target.idToToken(id) !== drafter.idToToken(id))
      bad(`token ${id} is "${drafter.idToToken(id)}" there, "${target.idToToken(id)}" here`);
  }
}
