/**
 * Engine: the entry point callers use (CLI `generate`/`ask`, the HTTP worker).
 *
 *   const engine = await Engine.load();                 // target (+ self-drafter) from paths.targetModel()
 *   const res = await engine.generate(
 *     { messages, passages, maxTokens: 256, sampling: { temperature: 0 }, mode: 'hybrid' },
 *     { onText: (d) => process.stdout.write(d), signal },
 *   );
 *   res.text, res.copiedSpans, res.stats
 *
 * One request runs at a time per Engine (requests queue inside); the output of every mode
 * is the target's own output: greedy = token-identical to `ar`, sampling = same distribution.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ModelDrafter } from '../drafting/model.ts';
import { tokenCharOffsets } from '../drafting/offsets.ts';
import { ReferenceDrafter } from '../drafting/reference.ts';
import { convertGguf } from '../model/convert.ts';
import { loadCausalLM, loadModelTokenizer } from '../model/load.ts';
import { encodeChat, renderChat } from '../model/tokenizer/chat.ts';
import type { TextTokenizer } from '../model/tokenizer/tokenizer.ts';
import type { CausalLM } from '../model/types.ts';
import type { ExecutionProvider } from '../model/onnx/session.ts';
import { RagspecError } from '../util/errors.ts';
import { paths } from '../util/paths.ts';
import { copiedSpans } from './attribution.ts';
import { BudgetPolicy, type BudgetOptions } from './budget.ts';
import { cachedCostCurve, measureCostCurve, type CostCurve } from './cost-curve.ts';
import { runLoop, type PlannedSource } from './loop.ts';
import { PrefixCache } from './prefix-cache.ts';
import type {
  ChatMessage,
  DecodeMode,
  GenerationCallbacks,
  GenerationRequest,
  GenerationResult,
} from './types.ts';

export interface EngineLoadOptions {
  /** Target model folder (converted) — default `paths.targetModel()`. */
  model?: string;
  /** Variant of the target folder (default: int4, else fp32). */
  variant?: string;
  /**
   * Drafter model: 'auto' (default) = the self-drafting variant `draft-int4` of the target
   * folder when it exists; 'none'; or a path to another converted folder / graph that shares
   * the target's tokenizer.
   */
  drafter?: 'auto' | 'none' | string;
  /** Variant of the drafter folder when `drafter` is a path. */
  drafterVariant?: string;
  device?: ExecutionProvider;
  threads?: number;
  /** Use (and if missing, measure) the forward-cost curve for the draft budget. Default true. */
  costCurve?: boolean;
  /** Defaults for the draft budget. */
  budget?: BudgetOptions;
}

export const SELF_DRAFT_VARIANT = 'draft-int4';
/**
 * Layers of the self-drafting model. Measured on the dev set (docs/BENCHMARKS.md, Engine):
 * no truncated layer subset of SmolLM2-135M agrees with the full model often enough to pay
 * for itself (top-1 agreement 3% with 6 layers, 10% with 15), so we keep the cheapest one;
 * hybrid mode only probes it when the passages offer nothing.
 */
export const DEFAULT_DRAFT_LAYERS = [0, 1, 2, 3, 4, 5];

export class Engine {
  private queue: Promise<unknown> = Promise.resolve();
  /** KV cache of the last prompt: requests sharing its prefix prefill only the rest. */
  readonly prefixCache = new PrefixCache();

  constructor(
    readonly target: CausalLM,
    readonly tokenizer: TextTokenizer,
    readonly drafter: ModelDrafter | null = null,
    readonly costCurve: CostCurve | null = null,
    private readonly budgetDefaults: BudgetOptions = {},
  ) {}

  static async load(opts: EngineLoadOptions = {}): Promise<Engine> {
    const dir = opts.model ?? paths.targetModel();
    const session = { device: opts.device, threads: opts.threads };
    const target = await loadCausalLM(dir, { ...session, variant: opts.variant });
    const tokenizer = loadModelTokenizer(dir);
    let drafter: ModelDrafter | null = null;
    const which = opts.drafter ?? 'auto';
    if (which === 'auto') {
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
          {
            code: 'tokenizer_mismatch',
            hint: 'a drafter must share the target model’s tokenizer',
          },
        );
      }
      drafter = new ModelDrafter(lm, { name: path.basename(which), eosIds: tokenizer.eosIds });
    }
    let curve: CostCurve | null = null;
    if (opts.costCurve ?? true) {
      const key = `${dir}|${opts.variant ?? 'default'}|${target.config.numLayers}|${opts.device ?? 'cpu'}|${opts.threads ?? 0}`;
      curve = cachedCostCurve(key) ?? (await measureCostCurve(target, key));
    }
    return new Engine(target, tokenizer, drafter, curve, opts.budget);
  }

  /** The prompt text for a chat conversation (model's chat template, generation prompt added). */
  renderChat(messages: readonly ChatMessage[]): string {
    return renderChat(this.tokenizer, messages, { addGenerationPrompt: true });
  }

  /** Prompt tokens of a request. */
  promptTokens(req: Pick<GenerationRequest, 'messages' | 'prompt'>): number[] {
    // Contents literal, only the template's markers special (no forged turns): encodeChat.
    if (req.messages && req.messages.length > 0) return encodeChat(this.tokenizer, req.messages);
    if (req.prompt !== undefined && req.prompt.length > 0) return this.tokenizer.encode(req.prompt);
    throw new RagspecError('a request needs `messages` or a non-empty `prompt`', {
      code: 'bad_request',
      status: 400,
    });
  }

  /** Generate (queued behind any running request). */
  generate(req: GenerationRequest, cb: GenerationCallbacks = {}): Promise<GenerationResult> {
    const run = this.queue.then(() => this.run(req, cb));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(req: GenerationRequest, cb: GenerationCallbacks): Promise<GenerationResult> {
    const mode: DecodeMode = req.mode ?? 'hybrid';
    if (mode === 'model' && !this.drafter) {
      throw new RagspecError('mode "model" needs a drafter model, and none is loaded', {
        code: 'no_drafter',
        status: 400,
        hint: `convert one with \`npx ragspec convert <gguf> --layers 0-5 --weights int4\` (variant ${SELF_DRAFT_VARIANT}) or use --mode hybrid/reference`,
      });
    }
    const prompt = this.promptTokens(req);
    const passages = req.passages ?? [];
    const sources: PlannedSource[] = [];
    let reference: ReferenceDrafter | null = null;
    if (mode === 'reference' || mode === 'hybrid') {
      reference = new ReferenceDrafter(passages, this.tokenizer);
      sources.push({ source: reference });
    }
    if ((mode === 'model' || mode === 'hybrid') && this.drafter) {
      this.drafter.reset();
      sources.push({ source: this.drafter, fallback: mode === 'hybrid' });
    }
    const budget = new BudgetPolicy({
      ...this.budgetDefaults,
      costCurve: this.budgetDefaults.costCurve ?? this.costCurve?.ms,
    });
    const out = await runLoop(
      {
        target: this.target,
        tokenizer: this.tokenizer,
        eosIds: this.tokenizer.eosIds,
        promptTokens: prompt,
        maxTokens: req.maxTokens,
        sampling: req.sampling,
        stop: req.stop,
        sources,
        budget,
        prefixCache: this.prefixCache,
      },
      cb,
    );
    const spans =
      reference && out.copies.some((c) => c)
        ? copiedSpans(
            out.copies,
            tokenCharOffsets(out.tokens, (ids) => this.tokenizer.decode(ids)),
            out.text,
            new Map(passages.map((p) => [p.id, p])),
            reference,
          )
        : [];
    return {
      text: out.text,
      tokens: out.tokens,
      finishReason: out.finishReason,
      copiedSpans: spans,
      stats: out.stats,
    };
  }

  async dispose(): Promise<void> {
    await this.target.dispose();
    await this.drafter?.dispose();
  }
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
      status: 400,
      hint: 'pick a drafter converted from the same model family (same tokenizer.json), or use --drafter none',
    });
  };
  if (target.vocabSize !== drafter.vocabSize) bad(`${drafter.vocabSize} tokens vs ${target.vocabSize}`);
  for (let id = 0; id < target.vocabSize; id++) {
    if (target.idToToken(id) !== drafter.idToToken(id))
      bad(`token ${id} is "${drafter.idToToken(id)}" there, "${target.idToToken(id)}" here`);
  }
}
