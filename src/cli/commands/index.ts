import type { Command } from 'commander';
import { register as setup } from './setup.ts';
import { register as convert } from './convert.ts';
import { register as generate } from './generate.ts';
import { register as ingest } from './ingest.ts';
import { register as search } from './search.ts';
import { register as ask } from './ask.ts';
import { register as distill } from './distill.ts';
import { register as serve } from './serve.ts';
import { register as start } from './start.ts';

export function registerCommands(program: Command): void {
  for (const r of [start, setup, convert, generate, ingest, distill, search, ask, serve]) r(program);
}
