import type { Command } from 'commander';
import { RagspecError } from '../../util/errors.ts';

export function register(program: Command): void {
  program
    .command('generate')
    .description('(not built yet)')
    .action(() => {
      throw new RagspecError('`ragspec generate` is not built yet');
    });
}
