/**
 * Chat prompts: the model's own Jinja chat template (GGUF `tokenizer.chat_template`),
 * rendered with @huggingface/jinja exactly as transformers' apply_chat_template would.
 */
import { Template } from '@huggingface/jinja';
import { RagspecError } from '../../util/errors.ts';
import type { TextTokenizer } from './tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface ChatRenderOptions {
  /** End with the assistant header so the model answers next. Default true. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `tools`, `documents`). */
  extra?: Record<string, unknown>;
}

/** Plain ChatML, used only when a model ships no template. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specials: { bosToken: string | null; eosToken: string },
  ) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new RagspecError(`the model's chat template does not parse: ${firstLine(err)}`, {
        code: 'bad_chat_template',
        hint: 'use a GGUF with a valid tokenizer.chat_template',
      });
    }
  }

  /** The template of a tokenizer (ChatML when the model has none). */
  static of(tok: TextTokenizer): ChatTemplate {
    return new ChatTemplate(tok.chatTemplate ?? CHATML_TEMPLATE, {
      bosToken: tok.bosToken,
      eosToken: tok.eosToken,
    });
  }

  render(messages: readonly ChatMessage[], opts: ChatRenderOptions = {}): string {
    try {
      return this.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt ?? true,
        bos_token: this.specials.bosToken ?? '',
        eos_token: this.specials.eosToken,
        ...opts.extra,
      });
    } catch (err) {
      // @huggingface/jinja provides raise_exception itself; its message names the template's complaint.
      throw new RagspecError(`rendering the chat template failed: ${firstLine(err)}`, {
        code: 'bad_chat_template',
      });
    }
  }
}

/** Render a conversation with a tokenizer's chat template. */
export function renderChat(
  tok: TextTokenizer,
  messages: readonly ChatMessage[],
  opts: ChatRenderOptions = {},
): string {
  return ChatTemplate.of(tok).render(messages, opts);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
