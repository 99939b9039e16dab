import type { Command } from 'commander';
import { RagspecError } from '../../util/errors.ts';

export function register(program: Command): void {
  program
    .command('serve')
    .description('(not built yet)')
    .action(() => {
      throw new RagspecError('`ragspec serve` is not built yet');
    });
}
