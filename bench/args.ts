/** Flag reading shared by the model benches: `--name value`, and `--help` from the file's header. */
import fs from 'node:fs';

/** The value after `--name`, or undefined. */
export function flag(name: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** With `--help`, print the calling script's header comment and exit. */
export function helpFromHeader(scriptUrl: string, argv: readonly string[] = process.argv.slice(2)): void {
  if (!argv.includes('--help')) return;
  console.log(fs.readFileSync(new URL(scriptUrl), 'utf8').split('*/')[0]);
  process.exit(0);
}
