/** `ragspec generate` — stream the target model's continuation of a prompt (any decode mode). */
import type { Command } from 'commander';
import { loadEngine } from '../../engine/load.ts';
import {
  DEVICE_HELP,
  formatStats,
  parseDevice,
  parseMode,
  parseSampling,
  type SamplingFlags,
} from '../decode-flags.ts';
import { RagspecError } from '../../util/errors.ts';

interface GenerateFlags extends SamplingFlags {
  prompt?: string;
  chat?: boolean;
  system?: string;
  maxTokens: string;
  mode: string;
  stop?: string[];
  model?: string;
  drafter?: string;
  device?: string;
  stats?: boolean;
  json?: boolean;
}

/** The sampling and decode-mode flags `generate` and `ask` share (read by `parseSampling`, `parseMode`). */
export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option('-t, --temperature <t>', 'sampling temperature; 0 = greedy', '0')
    .option('--top-k <k>', 'sample among the k most likely tokens')
    .option('--top-p <p>', 'nucleus sampling mass')
    .option('--seed <n>', 'random seed for sampling (reproducible runs)')
    .option(
      '--frequency-penalty <f>',
      'subtract f × count from the logits of generated tokens (-2..2; OpenAI)',
    )
    .option(
      '--presence-penalty <p>',
      'subtract p from the logits of tokens generated at least once (-2..2; OpenAI)',
    )
    .option(
      '--repetition-penalty <r>',
      'divide positive / multiply negative logits of prompt and generated tokens by r (> 0, 1 = off; CTRL)',
    )
    .option('--mode <mode>', 'ar, reference, model or hybrid', 'hybrid');
}

export function register(program: Command): void {
  addSamplingOptions(
    program
      .command('generate')
      .description(
        'Generate text with the target model; every --mode gives the target’s own output (greedy: token-identical).',
      )
      .option('-p, --prompt <text>', 'the prompt (raw text, or the user message with --chat)')
      .option('--chat', "wrap the prompt as a user message in the model's chat template")
      .option('--system <text>', 'system message (with --chat)')
      .option('-n, --max-tokens <n>', 'most new tokens', '128'),
  )
    .option('--stop <s...>', 'stop strings')
    .option('--model <dir>', 'converted model folder (default .ragspec/models/smollm2-135m-instruct)')
    .option(
      '--drafter <what>',
      "drafter model: none, a converted folder with the target's tokenizer, or self (layer-subset, experiments)",
      'none',
    )
    .option('--device <device>', DEVICE_HELP)
    .option('--stats', 'print decoding stats to stderr')
    .option('--json', 'print one JSON object (text, tokens, stats) instead of streaming')
    .action(async (o: GenerateFlags) => {
      if (!o.prompt)
        throw new RagspecError('--prompt is required', {
          hint: 'ragspec generate --prompt "Once upon a time"',
        });
      const maxTokens = positiveInt(o.maxTokens, '--max-tokens');
      const sampling = parseSampling(o);
      const mode = parseMode(o.mode);
      const device = parseDevice(o.device);
      const engine = await loadEngine({ model: o.model, drafter: o.drafter, device });
      try {
        const messages = o.chat
          ? [
              ...(o.system ? [{ role: 'system' as const, content: o.system }] : []),
              { role: 'user' as const, content: o.prompt },
            ]
          : undefined;
        const ac = new AbortController();
        const onSig = (): void => ac.abort();
        process.once('SIGINT', onSig);
        const res = await engine.generate(
          { prompt: o.chat ? undefined : o.prompt, messages, maxTokens, sampling, stop: o.stop, mode },
          { onText: o.json ? undefined : (d) => process.stdout.write(d), signal: ac.signal },
        );
        process.off('SIGINT', onSig);
        if (o.json)
          console.log(
            JSON.stringify(
              { text: res.text, tokens: res.tokens, finishReason: res.finishReason, stats: res.stats },
              null,
              2,
            ),
          );
        else process.stdout.write('\n');
        if (o.stats && !o.json) console.error(formatStats(res.stats, mode));
      } finally {
        await engine.dispose();
      }
    });
}

export function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new RagspecError(`${flag} must be a positive integer, got "${v}"`);
  return n;
}
