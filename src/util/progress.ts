/**
 * Progress for long work: a bar on a terminal, a few plain lines otherwise (CI logs stay
 * readable). Always written to stderr so stdout stays clean for `--json` output.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export function startProgress(label: string, total: number, unit = ''): Progress {
  if (process.stderr.isTTY && !process.env.CI) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% {value}/{total}${unit ? ' ' + unit : ''} eta {eta}s`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (d) => bar.update(Math.min(d, total)), stop: () => bar.stop() };
  }
  // Non-TTY: a line at every quarter, so logs show movement without flooding.
  let nextMark = 0.25;
  process.stderr.write(`${label}: 0/${total}${unit ? ' ' + unit : ''}\n`);
  return {
    update(d) {
      if (total > 0 && d / total >= nextMark) {
        process.stderr.write(`${label}: ${Math.round((d / total) * 100)}%\n`);
        while (d / total >= nextMark) nextMark += 0.25;
      }
    },
    stop() {},
  };
}
