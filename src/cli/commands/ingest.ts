import type { Command } from 'commander';
import { RagspecError } from '../../util/errors.ts';

export function register(program: Command): void {
  program
    .command('ingest')
    .description('(not built yet)')
    .action(() => {
      throw new RagspecError('`ragspec ingest` is not built yet');
    });
}
