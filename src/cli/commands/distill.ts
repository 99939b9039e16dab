/**
 * `ragspec distill` — Seq-KD over the corpus: the target writes a question per passage and
 * answers it in its own words; the answers go into the history datastore (in the data dir,
 * beside the corpus) that `hybrid` drafts from. Resumable after a kill, incremental after
 * an ingest (only new or changed passages). It reads corpus passages only, never an
 * evaluation set (src/answer/distill.ts).
 */
import type { Command } from 'commander';
import { distill } from '../../answer/distill.ts';
import { loadEngine } from '../../engine/load.ts';
import { openCorpus } from '../../retrieval/index.ts';
import { RagspecError } from '../../util/errors.ts';
import { paths } from '../../util/paths.ts';
import { startProgress } from '../../util/progress.ts';
import { positiveInt } from './generate.ts';

interface DistillFlags {
  data?: string;
  model?: string;
  drafter: string;
  maxPassages?: string;
  maxMinutes?: string;
  maxTokens: string;
  k: string;
}

export function register(program: Command): void {
  program
    .command('distill')
    .description(
      'Let the target answer questions it writes about the corpus passages, in its own words, and keep\n' +
        'the answers in the history datastore that hybrid mode drafts from (Seq-KD). Resumable (a killed\n' +
        'run goes on where it stopped) and incremental (after an ingest only new passages are done).\n' +
        'It reads only the corpus: no evaluation questions (shared/eval or any other) are ever used.',
    )
    .option('--data <dir>', 'corpus folder; the history is kept there too (default .ragspec/data)')
    .option('--model <dir>', 'converted model folder')
    .option('--drafter <what>', 'drafter model: auto, none, or a converted folder', 'none')
    .option('--max-passages <n>', 'distill at most this many passages in this run')
    .option('--max-minutes <m>', 'stop after this many minutes (the unfinished passage is redone next run)')
    .option('-n, --max-tokens <n>', 'most answer tokens per passage', '128')
    .option('-k, --k <n>', 'passages retrieved for each answer', '4')
    .action(async (o: DistillFlags) => {
      const maxPassages =
        o.maxPassages === undefined ? undefined : positiveInt(o.maxPassages, '--max-passages');
      const maxMinutes = o.maxMinutes === undefined ? undefined : Number(o.maxMinutes);
      if (maxMinutes !== undefined && !(maxMinutes > 0))
        throw new RagspecError(`--max-minutes must be a positive number, got "${o.maxMinutes}"`, {
          kind: 'bad_input',
        });
      const maxTokens = positiveInt(o.maxTokens, '--max-tokens');
      const k = positiveInt(o.k, '-k');
      const dir = o.data ?? paths.data();
      const corpus = await openCorpus(dir, { readOnly: true });
      try {
        const engine = await loadEngine({
          model: o.model,
          drafter: o.drafter,
          history: { dir, onLocked: 'throw' },
        });
        const store = engine.history!.store;
        const ac = new AbortController();
        const onSig = (): void => ac.abort();
        process.once('SIGINT', onSig);
        let bar: ReturnType<typeof startProgress> | null = null;
        try {
          const s = await distill(
            corpus.store,
            corpus,
            {
              generate: (req, cb) => engine.generate(req, cb),
              isDone: (key) => store.hasMark(key),
              markDone: (key) => {
                store.append([], key);
                store.flush();
              },
            },
            {
              maxPassages,
              maxMinutes,
              maxTokens,
              k,
              signal: ac.signal,
              onProgress: (done, total) => {
                bar ??= startProgress('distill', total, 'passages');
                bar.update(done);
              },
            },
          );
          (bar as ReturnType<typeof startProgress> | null)?.stop();
          store.compact(); // one snapshot at the end: the next load reads one file
          const secs = s.ms / 1000;
          console.log(
            `distilled ${s.distilled} passages in ${secs.toFixed(0)} s (${s.answerTokens} answer tokens, ` +
              `${(s.answerTokens / Math.max(secs, 1e-9)).toFixed(1)} tok/s; ${s.noQuestion} without a question); ` +
              `${s.alreadyDone} done before, ${s.remaining} left; history holds ${store.tokenCount} tokens ` +
              `in ${store.entryCount} answers (stopped: ${s.stoppedBy})`,
          );
        } finally {
          process.off('SIGINT', onSig);
          await engine.dispose();
        }
      } finally {
        await corpus.close();
      }
    });
}
