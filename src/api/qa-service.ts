/**
 * The HTTP side of the answer use case (src/answer), kept out of the handlers: map the
 * request bodies onto it, check the prompt fits the context window, run the generation on
 * the model worker, and fold the outcome into metrics and analytics.
 */
import { randomUUID } from 'node:crypto';
import type { RagspecConfig } from '../config/schema.ts';
import {
  completeAnswer,
  prepareAnswer,
  type Answer,
  type PassageSearch,
  type PreparedAnswer,
} from '../answer/answer.ts';
import { retrievalQuery } from '../answer/prompt.ts';
import type { ChatMessage, DecodeMode } from '../engine/types.ts';
import type { ScoredPassage } from '../retrieval/types.ts';
import type { GenerationRecords } from './analytics/store.ts';
import type { GenerationBackend, RuntimeState } from './deps.ts';
import { BadRequestError, ContextLengthError, NotFoundError, ServiceUnavailableError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import type { AnswerBody, ChatBody } from './schemas.ts';
import { ABORT_CLIENT, type ModelWorker } from './worker.ts';

/** A generation that passed every check and can be queued. */
export interface PreparedGeneration extends PreparedAnswer {
  id: string;
  route: 'answer' | 'chat';
  promptTokens: number;
  backend: GenerationBackend;
  receivedAt: number;
}

export interface GenerationOutcome extends Answer {
  latencyMs: number;
  ttftMs: number | null;
}

export interface RunHooks {
  /** Client-side cancellation (disconnect). */
  signal?: AbortSignal;
  onText?: (delta: string) => void;
  /** Called when the worker picks the job up (after any queue wait), before prefill. */
  onStart?: () => void;
}

function messageText(content: ChatBody['messages'][number]['content']): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

export class QaService {
  /** Backends whose batched steps already feed the metrics. */
  private readonly watched = new WeakSet<GenerationBackend>();

  constructor(
    private readonly deps: {
      state: RuntimeState;
      worker: ModelWorker;
      metrics: Metrics;
      analytics: GenerationRecords;
      config: RagspecConfig;
    },
  ) {}

  backend(): GenerationBackend {
    const b = this.deps.state.backend;
    if (!b)
      throw new ServiceUnavailableError(
        'the model is still loading — retry when /readyz answers 200',
        'not_ready',
        5,
      );
    return b;
  }

  private async retrieve(query: string, k: number, pathPrefix?: string): Promise<ScoredPassage[]> {
    if (k <= 0) return [];
    const corpus = this.deps.state.corpus;
    if (!corpus)
      throw new ServiceUnavailableError(
        'the index is still opening — retry when /readyz answers 200',
        'not_ready',
        5,
      );
    return corpus.search(query, { k, pathPrefix });
  }

  /** Retrieval for the answer use case, with this service's readiness checks. */
  private readonly passages: PassageSearch = {
    search: (query, opts) => this.retrieve(query, opts.k, opts.pathPrefix),
  };

  async prepareAnswer(body: AnswerBody): Promise<PreparedGeneration> {
    const receivedAt = Date.now(); // latency and TTFT include retrieval
    const backend = this.backend();
    const g = this.deps.config.generation;
    const prepared = await prepareAnswer(this.passages, {
      question: body.question,
      k: body.top_k ?? this.deps.config.retrieval.defaultTopK,
      pathPrefix: body.path_prefix,
      maxTokens: body.max_tokens ?? g.defaultMaxTokens,
      sampling: {
        temperature: body.temperature ?? 0,
        topP: body.top_p,
        seed: body.seed,
        frequencyPenalty: body.frequency_penalty ?? g.frequencyPenalty,
        presencePenalty: body.presence_penalty ?? g.presencePenalty,
        repetitionPenalty: body.repetition_penalty ?? g.repetitionPenalty,
      },
      stop: typeof body.stop === 'string' ? [body.stop] : body.stop,
      mode: body.mode ?? g.mode,
    });
    return this.finish('answer', prepared, body.max_tokens !== undefined, backend, receivedAt);
  }

  /** Model ids chat completions accept: the target's own id and the alias `ragspec`. */
  modelIds(): string[] {
    return [this.backend().modelId, 'ragspec'];
  }

  async prepareChat(body: ChatBody): Promise<PreparedGeneration> {
    const receivedAt = Date.now();
    const backend = this.backend();
    if (!this.modelIds().includes(body.model)) {
      throw new NotFoundError(
        `model "${body.model}" does not exist — use one of ${this.modelIds().join(', ')} (GET /v1/models)`,
        'model',
      );
    }
    const g = this.deps.config.generation;
    const messages: ChatMessage[] = body.messages.map((m) => ({
      role: m.role === 'developer' ? 'system' : m.role,
      content: messageText(m.content),
    }));
    const retrieval = body.retrieval ?? true;
    const k =
      retrieval === false
        ? 0
        : ((retrieval === true ? undefined : retrieval.top_k) ?? this.deps.config.retrieval.defaultTopK);
    const pathPrefix = typeof retrieval === 'object' ? retrieval.path_prefix : undefined;
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const prepared = await prepareAnswer(this.passages, {
      question: retrievalQuery(messages),
      conversation: messages,
      k,
      pathPrefix,
      maxTokens: maxTokens ?? g.defaultMaxTokens,
      // OpenAI's default temperature is 1; ours is greedy unless asked, so answers are reproducible.
      sampling: {
        temperature: body.temperature ?? 0,
        topP: body.top_p ?? undefined,
        seed: body.seed ?? undefined,
        frequencyPenalty: body.frequency_penalty ?? g.frequencyPenalty,
        presencePenalty: body.presence_penalty ?? g.presencePenalty,
        repetitionPenalty: body.repetition_penalty ?? g.repetitionPenalty,
      },
      stop: typeof body.stop === 'string' ? [body.stop] : (body.stop ?? undefined),
      mode: (body.mode as DecodeMode | undefined) ?? g.mode,
    });
    return this.finish('chat', prepared, maxTokens !== undefined, backend, receivedAt);
  }

  /**
   * Context-window check. An explicit max_tokens must fit beside the prompt; the default
   * one is clipped to what is left.
   */
  private finish(
    route: 'answer' | 'chat',
    prepared: PreparedAnswer,
    explicitMax: boolean,
    backend: GenerationBackend,
    receivedAt: number,
  ): PreparedGeneration {
    const { request } = prepared;
    if (!backend.modes.includes(request.mode)) {
      throw new BadRequestError(
        `mode "${request.mode}" is not available: no drafter model is loaded — use one of ${backend.modes.join(', ')}`,
        'mode',
        'mode_unavailable',
      );
    }
    const promptTokens = backend.countPromptTokens(request);
    const ctx = backend.contextLength;
    if (promptTokens >= ctx || (explicitMax && promptTokens + request.maxTokens > ctx)) {
      throw new ContextLengthError(promptTokens, request.maxTokens, ctx);
    }
    request.maxTokens = Math.min(request.maxTokens, ctx - promptTokens);
    return {
      ...prepared,
      id: randomUUID(),
      route,
      promptTokens,
      backend,
      receivedAt,
    };
  }

  /**
   * Queue and run. Metrics and analytics are recorded inside the job, so a generation
   * cut short by a disconnect or timeout is counted too.
   */
  run(prep: PreparedGeneration, hooks: RunHooks = {}): Promise<GenerationOutcome> {
    const { metrics, analytics, worker } = this.deps;
    const backend = prep.backend;
    if (backend.onBatchStep && !this.watched.has(backend)) {
      this.watched.add(backend);
      backend.onBatchStep((t) => metrics.recordBatchStep(t));
    }
    const queuedAt = Date.now();
    return worker.run(async (signal) => {
      const workerWaitMs = Date.now() - queuedAt;
      hooks.onStart?.();
      let steps = 0;
      let stepsAtAbort: number | null = signal.aborted ? 0 : null;
      const onAbort = () => (stepsAtAbort = steps);
      signal.addEventListener('abort', onAbort, { once: true });
      let ttftMs: number | null = null;
      const settleAbort = () => {
        signal.removeEventListener('abort', onAbort);
        if (stepsAtAbort !== null) {
          metrics.cancelled.inc({ reason: signal.reason === ABORT_CLIENT ? 'client_closed' : 'timeout' });
          metrics.recordStepsAfterAbort(steps - stepsAtAbort);
        }
      };
      let answer: Answer;
      try {
        answer = await completeAnswer(prep.backend, prep, {
          signal,
          onText: (delta) => {
            if (ttftMs === null && delta.length > 0) ttftMs = Date.now() - prep.receivedAt;
            hooks.onText?.(delta);
          },
          onStep: () => {
            steps++;
          },
        });
      } catch (err) {
        settleAbort();
        throw err;
      }
      settleAbort();
      const { result } = answer;
      // Queue wait in analytics: the worker's queue plus the batch's own (slot) wait.
      if (result.stats.batch) result.stats.batch.queueWaitMs += workerWaitMs;
      const latencyMs = Date.now() - prep.receivedAt;
      metrics.recordGeneration(prep.request.mode, result.finishReason, result.stats);
      analytics.record({
        id: prep.id,
        createdAt: prep.receivedAt,
        route: prep.route,
        mode: prep.request.mode,
        finishReason: result.finishReason,
        question: prep.question,
        passages: prep.passages.length,
        stats: result.stats,
        latencyMs,
        ttftMs,
      });
      return { ...answer, latencyMs, ttftMs };
    }, hooks.signal);
  }
}
