/** `ragspec ask "question"` — retrieve, answer with drafting from the passages, cite what was copied. */
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
import { completeAnswer, prepareAnswer } from '../../answer/answer.ts';
import { checkDevice } from '../../model/onnx/device.ts';
import { openCorpusAt } from '../../retrieval/index.ts';
import { cliStoreTarget, STORE_FLAG_HELP } from '../store-target.ts';
import { paths } from '../../util/paths.ts';
import { addSamplingOptions, positiveInt } from './generate.ts';

interface AskFlags extends SamplingFlags {
  k: string;
  maxTokens: string;
  mode: string;
  json?: boolean;
  data?: string;
  store?: string;
  model?: string;
  drafter?: string;
  device?: string;
  history: boolean;
}

export function register(program: Command): void {
  addSamplingOptions(
    program
      .command('ask')
      .description(
        'Answer a question from the corpus; drafts come from the retrieved passages, the output is the model’s own.',
      )
      .argument('<question>', 'what to ask')
      .option('-k, --k <n>', 'passages to retrieve', '4')
      .option('-n, --max-tokens <n>', 'most answer tokens', '256'),
  )
    .option('--json', 'print one JSON object: answer, passages, citations, stats')
    .option('--data <dir>', 'corpus folder (default .ragspec/data)')
    .option('--store <url>', STORE_FLAG_HELP)
    .option('--model <dir>', 'converted model folder')
    .option(
      '--drafter <what>',
      "drafter model: none, a converted folder with the target's tokenizer, or self (layer-subset, experiments)",
      'none',
    )
    .option('--device <device>', DEVICE_HELP)
    .option('--no-history', "don't draft from (or add this answer to) the history datastore of past answers")
    .action(async (question: string, o: AskFlags) => {
      const k = positiveInt(o.k, '-k');
      const maxTokens = positiveInt(o.maxTokens, '--max-tokens');
      const sampling = parseSampling(o);
      const mode = parseMode(o.mode);
      const device = parseDevice(o.device);
      checkDevice(device); // before retrieval: no GPU is known in a moment, not after a search
      const corpus = await openCorpusAt(cliStoreTarget(o), { readOnly: true });
      let prepared;
      try {
        prepared = await prepareAnswer(corpus, { question, k, maxTokens, sampling, mode });
      } finally {
        await corpus.close();
      }
      const { passages } = prepared;
      const engine = await loadEngine({
        model: o.model,
        drafter: o.drafter,
        device,
        // the history datastore lives beside the corpus
        history: o.history ? { dir: o.data ?? paths.data() } : undefined,
      });
      try {
        const ac = new AbortController();
        const onSig = (): void => ac.abort();
        process.once('SIGINT', onSig);
        const { result: res, citations } = await completeAnswer(engine, prepared, {
          onText: o.json ? undefined : (d) => process.stdout.write(d),
          signal: ac.signal,
        });
        process.off('SIGINT', onSig);
        if (o.json) {
          console.log(
            JSON.stringify(
              {
                answer: res.text,
                finishReason: res.finishReason,
                passages: passages.map((p, i) => ({
                  n: i + 1,
                  id: p.id,
                  path: p.path,
                  title: p.title,
                  start: p.start,
                  end: p.end,
                  scores: p.scores,
                })),
                citations,
                stats: res.stats,
              },
              null,
              2,
            ),
          );
          return;
        }
        process.stdout.write('\n\n');
        console.log('Sources:');
        passages.forEach((p, i) => console.log(`  [${i + 1}] ${p.path} — ${p.title}`));
        // single tokens copied by chance ("the", "m") are attributed in --json, not listed here
        const shown = citations.flatMap((c) =>
          c.copied_spans.filter((s) => s.text.trim().length >= 12).map((s) => ({ c, s })),
        );
        if (shown.length) {
          console.log('Copied from the sources:');
          for (const { c, s } of shown) {
            const text = s.text.length > 80 ? `${s.text.slice(0, 77)}…` : s.text;
            console.log(
              `  [${c.ref}] ${c.doc} chars ${s.source_start}-${s.source_end}: "${text.replace(/\n/g, ' ')}"`,
            );
          }
        }
        console.error(formatStats(res.stats, mode));
      } finally {
        await engine.dispose();
      }
    });
}
