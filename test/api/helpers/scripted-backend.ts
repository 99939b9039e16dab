/**
 * A deterministic stand-in `GenerationBackend` for tests of the HTTP layer's own
 * mechanics (queue, timeouts, framing) where the model's words do not matter. It "decodes"
 * one word per step, yields to the event loop between steps like a real forward does, and
 * honours the abort signal between steps. Real-model behaviour is tested elsewhere.
 */
import type { GenerationBackend } from '../../../src/api/deps.ts';
import type { GenerationCallbacks, GenerationRequest, GenerationResult } from '../../../src/engine/types.ts';

export class ScriptedBackend implements GenerationBackend {
  readonly modelId = 'scripted-test-model';
  readonly contextLength = 2048;
  stepsRun = 0;
  /** Resolves the next time a generation starts (for tests that abort mid-flight). */
  started: Promise<void> = Promise.resolve();
  private onStarted: (() => void) | null = null;

  constructor(
    private readonly words: string[] = 'The npm ci command installs exactly what the lockfile says .'.split(' '),
    private readonly stepMs = 5,
  ) {
    this.armStarted();
  }

  private armStarted(): void {
    this.started = new Promise((r) => (this.onStarted = r));
  }

  countPromptTokens(req: GenerationRequest): number {
    const text = req.prompt ?? (req.messages ?? []).map((m) => m.content).join('\n');
    return Math.ceil(text.length / 4);
  }

  async generate(req: GenerationRequest, cb: GenerationCallbacks): Promise<GenerationResult> {
    const t0 = Date.now();
    this.onStarted?.();
    this.armStarted();
    let text = '';
    const tokens: number[] = [];
    let finish: GenerationResult['finishReason'] = 'stop';
    for (let i = 0; i < this.words.length; i++) {
      if (cb.signal?.aborted) {
        finish = 'cancelled';
        break;
      }
      if (tokens.length >= req.maxTokens) {
        finish = 'length';
        break;
      }
      await new Promise((r) => setTimeout(r, this.stepMs));
      const piece = (i === 0 ? '' : ' ') + this.words[i];
      text += piece;
      tokens.push(i + 10);
      this.stepsRun++;
      cb.onText?.(piece);
      cb.onStep?.({ index: i, emitted: 1, treeSize: 1 });
    }
    const n = tokens.length;
    return {
      text,
      tokens,
      finishReason: finish,
      copiedSpans: [],
      stats: {
        promptTokens: this.countPromptTokens(req),
        completionTokens: n,
        steps: n,
        drafts: 0,
        draftTokens: 0,
        acceptedTokens: 0,
        bySource: {},
        acceptedPerPosition: [],
        acceptanceLengths: [0, n],
        treeSizes: new Array(n).fill(1),
        tokensPerStep: 1,
        meanAcceptanceLength: 1,
        timeMs: { total: Date.now() - t0, prefill: 0, draft: 0, verify: Date.now() - t0, other: 0 },
        decodeTokensPerSecond: n / Math.max(0.001, (Date.now() - t0) / 1000),
      },
    };
  }
}
