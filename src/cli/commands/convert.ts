import type { Command } from 'commander';
import { RagspecError } from '../../util/errors.ts';

export function register(program: Command): void {
  program
    .command('convert')
    .description('(not built yet)')
    .action(() => {
      throw new RagspecError('`ragspec convert` is not built yet');
    });
}
