import type { Command } from 'commander';
import { RagspecError } from '../../util/errors.ts';

export function register(program: Command): void {
  program
    .command('search')
    .description('(not built yet)')
    .action(() => {
      throw new RagspecError('`ragspec search` is not built yet');
    });
}
