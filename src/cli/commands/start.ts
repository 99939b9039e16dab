import type { Command } from 'commander';
import { RagspecError } from '../../util/errors.ts';

export function register(program: Command): void {
  program
    .command('start')
    .description('(not built yet)')
    .action(() => {
      throw new RagspecError('`ragspec start` is not built yet');
    });
}
