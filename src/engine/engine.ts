/**
 * Engine: generation for one loaded target model (CLI `generate`, the answer use case, the
 * HTTP worker). Loading and conversion live in load.ts.
 *
 *   const engine = await loadEngine();
 *   const res = await engine.generate(
 *     { messages, passages, maxTokens: 256, sampling: { temperature: 0 }, mode: 'hybrid' },
 *     { onText: (d) => process.stdout.write(d), signal },
 *   );
 *   res.text, res.copiedSpans, res.stats
 *
 * With `maxBatch` 1 one request runs at a time per Engine (requests queue inside); with more
 * (and a graph that takes a batch) up to `maxBatch` run together through the Scheduler, their
 * steps joined into shared target forwards. Either way the output of every mode is the
 * target's own output: greedy = token-identical to `ar`, sampling = same distribution.
 */
import { BudgetPolicy, type BudgetOptions } from '../drafting/budget.ts';
import { DraftMemory } from '../drafting/memory.ts';
import { tokenCharOffsets } from '../drafting/offsets.ts';
import { PassageCharIndex } from '../drafting/passage-chars.ts';
import { DraftPlanner } from '../drafting/planner.ts';
import { draftSourcesFor } from '../drafting/sources/index.ts';
import type { HistoryStore } from '../drafting/history/store.ts';
import type { ModelDrafter } from '../drafting/sources/model.ts';
import { encodeChat, renderChat } from '../model/tokenizer/chat.ts';
import type { TextTokenizer } from '../model/tokenizer/tokenizer.ts';
import type { CausalLM } from '../model/types.ts';
import { RagspecError } from '../util/errors.ts';
import { copiedSpans } from './attribution.ts';
import type { CostCurve } from './cost-curve.ts';
import { runLoop, type LoopOptions } from './loop.ts';
import { Scheduler, type TickInfo } from './scheduler.ts';
import { PrefixCache } from './prefix-cache.ts';
import type {
  ChatMessage,
  DecodeMode,
  GenerationCallbacks,
  GenerationRequest,
  GenerationResult,
} from './types.ts';

/** The history datastore an engine drafts from, and whether it adds its outputs to it. */
export interface EngineHistory {
  store: HistoryStore;
  /** Append every finished generation's output (off for benchmarks: dev runs must not feed themselves). */
  record: boolean;
}

/** The converted variant name of the self-drafting model (see load.ts). */
export const SELF_DRAFT_VARIANT = 'draft-int4';

export interface EngineOptions {
  /** Generations per target forward (continuous batching); default 1. */
  maxBatch?: number;
  /** Prompt chunks prefilled per batched step, oldest request first (Scheduler). */
  prefillChunksPerTick?: number;
}

export class Engine {
  private queue: Promise<unknown> = Promise.resolve();
  /** KV cache of the last prompt: requests sharing its prefix prefill only the rest. */
  readonly prefixCache = new PrefixCache();
  /** Present when batching is on (maxBatch > 1 and the target takes batches). */
  readonly scheduler: Scheduler | null;
  /** Listeners of every scheduler tick (metrics). */
  readonly tickListeners: ((t: TickInfo) => void)[] = [];

  constructor(
    readonly target: CausalLM,
    readonly tokenizer: TextTokenizer,
    readonly drafter: ModelDrafter | null = null,
    readonly costCurve: CostCurve | null = null,
    private readonly budgetDefaults: BudgetOptions = {},
    readonly history: EngineHistory | null = null,
    /** What the draft sources learned, across requests (and processes when it has a file). */
    readonly memory: DraftMemory = new DraftMemory(),
    opts: EngineOptions = {},
  ) {
    if (drafter) {
      drafter.acceptance = memory.drafter.acceptance ?? drafter.acceptance;
      drafter.costMs = memory.drafter.costMs ?? drafter.costMs;
    }
    const maxBatch = opts.maxBatch ?? 1;
    this.scheduler =
      maxBatch > 1 && target.capabilities.batch
        ? new Scheduler(target, {
            maxBatch,
            prefillChunksPerTick: opts.prefillChunksPerTick,
            onTick: (t) => this.tickListeners.forEach((f) => f(t)),
          })
        : null;
  }

  /** Generations that run at once: maxBatch with batching on, else 1. */
  get concurrency(): number {
    return this.scheduler?.batch.maxBatch ?? 1;
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
      kind: 'bad_input',
    });
  }

  /** Generate: in the batch when batching is on, else queued behind any running request. */
  generate(req: GenerationRequest, cb: GenerationCallbacks = {}): Promise<GenerationResult> {
    const scheduler = this.scheduler;
    if (scheduler) return this.run(req, (o) => scheduler.submit(o, cb));
    const run = this.queue.then(() => this.run(req, (o) => runLoop(o, cb)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(
    req: GenerationRequest,
    loop: (o: LoopOptions) => ReturnType<typeof runLoop>,
  ): Promise<GenerationResult> {
    const mode: DecodeMode = req.mode ?? 'hybrid';
    if (mode === 'model' && !this.drafter) {
      throw new RagspecError('mode "model" needs a drafter model, and none is loaded', {
        code: 'no_drafter',
        kind: 'bad_input',
        hint: `pass an independent drafter that shares the target's tokenizer with --drafter DIR (or --drafter self for the layer-subset variant ${SELF_DRAFT_VARIANT}), or use --mode hybrid/reference`,
      });
    }
    const prompt = this.promptTokens(req);
    const passages = req.passages ?? [];
    // Requests decoding together each get their own drafter cache (same model session).
    const drafter = this.scheduler ? (this.drafter?.fork() ?? null) : this.drafter;
    const sources = draftSourcesFor(mode, {
      passages,
      tokenizer: this.tokenizer,
      drafter,
      history: this.history?.store ?? null,
      memory: this.memory,
    });
    const budget = new BudgetPolicy({
      ...this.budgetDefaults,
      costCurve: this.budgetDefaults.costCurve ?? this.costCurve?.ms,
    });
    const out = await loop({
      target: this.target,
      tokenizer: this.tokenizer,
      eosIds: this.tokenizer.eosIds,
      promptTokens: prompt,
      maxTokens: req.maxTokens,
      sampling: req.sampling,
      stop: req.stop,
      planner: new DraftPlanner(sources, { budget }),
      prefixCache: this.prefixCache,
    });
    if (this.history?.record && req.recordHistory !== false && out.finishReason !== 'cancelled')
      this.record(this.history.store, out.tokens, req.historyMark);
    this.remember();
    const spans = out.copies.some((c) => c)
      ? copiedSpans(
          out.copies,
          tokenCharOffsets(out.tokens, (ids) => this.tokenizer.decode(ids)),
          out.text,
          new Map(passages.map((p) => [p.id, p])),
          new PassageCharIndex(passages, this.tokenizer),
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

  /**
   * Add an output to the history: in memory at once (the next request drafts from it), then
   * one small journal append + fsync. A failed write never fails the request that was
   * answered; it is kept in `historyError` and retried with the next flush.
   */
  private record(store: HistoryStore, tokens: readonly number[], mark?: string): void {
    store.append(tokens, mark);
    try {
      store.flush();
      this.historyError = null;
    } catch (err) {
      this.historyError = err;
    }
  }

  /** The last failed history write, if the latest flush failed. */
  historyError: unknown = null;

  /** Persist what the sources learned (after every request: a killed process keeps it). */
  private remember(): void {
    if (this.drafter)
      this.memory.drafter = { acceptance: this.drafter.acceptance, costMs: this.drafter.costMs };
    this.memory.save();
  }

  async dispose(): Promise<void> {
    this.remember();
    if (this.history) {
      try {
        this.history.store.close();
      } catch {
        // the journal keeps what was written before; nothing else to save at exit
      }
    }
    await this.target.dispose();
    await this.drafter?.dispose();
  }
}
