/**
 * The output side of decoding, shared by every mode: tokens are pushed ONE AT A TIME in
 * order, and the stop rules (EOS, stop strings, max tokens) are checked after each, exactly
 * as autoregressive decoding does. A speculative step that accepted k tokens pushes them one
 * by one, so a stop inside an accepted span (or across the boundary between two steps)
 * ends the output at the same token and the same character as AR would.
 *
 * Streaming: only stable text is emitted — never a trailing partial UTF-8 character
 * (U+FFFD from a split byte sequence), and never text that could still become the start of
 * a stop string.
 */
import type { FinishReason } from './types.ts';

export interface OutputTokenizer {
  decode(ids: readonly number[]): string;
}

export interface OutputRules {
  maxTokens: number;
  eosIds: readonly number[];
  stop: readonly string[];
}

export class OutputText {
  /** Generated tokens (EOS not included). */
  readonly tokens: number[] = [];
  finishReason: FinishReason | null = null;
  /** Characters already handed to `onText`. */
  private emitted = 0;
  /** Decoded text up to the last clean token boundary, and that boundary. */
  private cleanText = '';
  private cleanFrom = 0;
  /** Text including a trailing partial character, if any. */
  private fullText = '';
  /** Final text when a stop string cut it. */
  private cutText: string | null = null;
  private readonly eos: Set<number>;
  private readonly maxStop: number;

  constructor(
    private readonly tokenizer: OutputTokenizer,
    private readonly rules: OutputRules,
    private readonly onText?: (delta: string) => void,
  ) {
    this.eos = new Set(rules.eosIds);
    this.maxStop = rules.stop.reduce((m, s) => Math.max(m, s.length), 0);
    if (rules.maxTokens <= 0) this.finishReason = 'length';
  }

  get done(): boolean {
    return this.finishReason !== null;
  }

  /** The text as it stands (final once `done`). */
  get text(): string {
    return this.cutText ?? (this.done ? this.fullText : this.cleanText);
  }

  /** Push one token; returns true when generation must stop. */
  push(token: number): boolean {
    if (this.done) return true;
    if (this.eos.has(token)) return this.finish('stop');
    this.tokens.push(token);
    const before = this.cleanText.length;
    const tail = this.tokenizer.decode(this.tokens.slice(this.cleanFrom));
    if (tail.endsWith('\uFFFD')) {
      this.fullText = this.cleanText + tail;
    } else {
      this.cleanText += tail;
      this.cleanFrom = this.tokens.length;
      this.fullText = this.cleanText;
    }
    if (this.maxStop > 0 && this.cleanText.length > before) {
      const from = Math.max(0, before - this.maxStop + 1);
      let cut = -1;
      for (const s of this.rules.stop) {
        if (s.length === 0) continue;
        const at = this.cleanText.indexOf(s, from);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) {
        this.cutText = this.cleanText.slice(0, cut);
        return this.finish('stop');
      }
    }
    if (this.tokens.length >= this.rules.maxTokens) return this.finish('length');
    this.flush(this.cleanText.length - this.heldBack());
    return false;
  }

  /** End early (cancellation). */
  cancel(): void {
    if (!this.done) this.finish('cancelled');
  }

  private finish(reason: FinishReason): true {
    this.finishReason = reason;
    this.flush(this.text.length);
    return true;
  }

  /** Length of the longest suffix of the clean text that is a proper prefix of a stop string. */
  private heldBack(): number {
    let held = 0;
    const t = this.cleanText;
    for (const s of this.rules.stop) {
      for (let k = Math.min(s.length - 1, t.length); k > held; k--) {
        if (t.endsWith(s.slice(0, k))) {
          held = k;
          break;
        }
      }
    }
    return held;
  }

  private flush(upTo: number): void {
    const text = this.text;
    if (upTo > this.emitted) {
      this.onText?.(text.slice(this.emitted, upTo));
      this.emitted = upTo;
    }
  }
}
