import type { Command } from 'commander';
import { RagspecError } from '../../util/errors.ts';

export function register(program: Command): void {
  program
    .command('ask')
    .description('(not built yet)')
    .action(() => {
      throw new RagspecError('`ragspec ask` is not built yet');
    });
}
