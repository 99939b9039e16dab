/**
 * `ragspec` — the command-line entry. Each command lives in its own file under
 * ./commands and registers itself on the program; this file only wires them up and turns
 * errors into one line on stderr.
 */
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../util/errors.ts';
import { registerCommands } from './commands/index.ts';

const program = new Command();
program
  .name('ragspec')
  .description(
    'Question answering over your own documents with a local LLM, made faster by lossless\n' +
      'speculative decoding that drafts from the retrieved passages.\n\n' +
      'Quick start:  npx ragspec start      (setup + ingest the default corpus + serve)\n' +
      'Assets live in .ragspec/ (or $RAGSPEC_HOME).',
  )
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    console.error(`ragspec: error: ${errorMessage(err)}`);
    if (process.env.RAGSPEC_DEBUG) console.error(err);
    process.exitCode = 1;
  }
}
