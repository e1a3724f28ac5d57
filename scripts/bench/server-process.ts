import { rssMiB, startChild } from '../../test/robustness/child';

export interface BenchServer {
  url: string;
  pid: number;
  rssMb(): number;
  stop(): Promise<void>;
}

/**
 * The server as its own process, as `npm start` runs it (the robustness tests' child-process
 * helper), with rate limiting off: a benchmark is one client sending as fast as it can.
 */
export async function startServerProcess(databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<BenchServer> {
  const child = await startChild(databaseUrl, { FHIR_RATE_LIMIT: '0', ...extraEnv });
  return {
    url: child.url,
    pid: child.process.pid!,
    rssMb: () => rssMiB(child.process.pid!) ?? 0,
    stop: async () => {
      child.process.kill('SIGINT');
      await child.exited;
    },
  };
}
