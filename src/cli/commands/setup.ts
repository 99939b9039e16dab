import type { Command } from 'commander';
import { RagspecError } from '../../util/errors.ts';

export function register(program: Command): void {
  program
    .command('setup')
    .description('(not built yet)')
    .action(() => {
      throw new RagspecError('`ragspec setup` is not built yet');
    });
}
