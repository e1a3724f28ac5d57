import { SingleBar } from 'cli-progress';

export interface Progress {
  /** Pass as the `onProgress` of a long job: starts the bar on the first report. */
  update(done: number, total: number): void;
  stop(): void;
  /** True when a bar is drawn (stderr is a terminal): messages should wait until `stop`. */
  readonly drawn: boolean;
}

/** A progress bar on stderr when it is a terminal; nothing (not even escape codes) otherwise. */
export function progressBar(format: string): Progress {
  const bar = process.stderr.isTTY ? new SingleBar({ stream: process.stderr, format }) : undefined;
  let started = false;
  return {
    drawn: bar !== undefined,
    update(done, total) {
      if (!started) {
        bar?.start(total, 0);
        started = true;
      }
      bar?.update(done);
    },
    stop() {
      bar?.stop();
    },
  };
}
