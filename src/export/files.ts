import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';

/** One finished (or growing) output file. */
export interface OutputFile {
  type: string;
  file: string;
  count: number;
  bytes: number;
}

/** Where a sink stands: enough to reopen it after a restart and continue exactly there. */
export interface SinkState {
  files: OutputFile[];
}

/** Where exported resources go: NDJSON files per type (Bulk Data), or collection Bundles (CLI). */
export interface ResourceSink {
  write(type: string, json: string): Promise<void>;
  /** Waits until everything written so far is handed to the OS, then returns the state to checkpoint. */
  flush(): Promise<SinkState>;
  close(): Promise<OutputFile[]>;
}

/**
 * An append-only file written with backpressure: `write` waits for `drain` when the OS is slower than
 * the database, so a big export never piles up in memory.
 */
class AppendFile {
  private readonly stream: fs.WriteStream;
  private pending: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  /** `append`: continue a resumed file; otherwise start it afresh (a crashed run may have left one). */
  constructor(
    readonly filePath: string,
    append = false,
  ) {
    this.stream = fs.createWriteStream(filePath, { flags: append ? 'a' : 'w' });
    this.stream.on('error', (err) => {
      this.failure = err;
    });
  }

  async write(text: string): Promise<void> {
    if (this.failure) {
      throw this.failure;
    }
    this.pending = new Promise((resolve, reject) => {
      this.stream.write(text, (err) => (err ? reject(err) : resolve()));
    });
    // Keep an unobserved rejection from crashing the process: flush() and close() report it.
    this.pending.catch(() => undefined);
    if (this.stream.writableNeedDrain) {
      await Promise.race([once(this.stream, 'drain'), this.pending]);
    }
  }

  /** Resolves when every chunk written so far has reached the OS. */
  async flush(): Promise<void> {
    await this.pending;
    if (this.failure) {
      throw this.failure;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

/**
 * NDJSON files per type, `Observation-1.ndjson`, `Observation-2.ndjson`, … of at most `maxLines`
 * lines each. Resuming from a checkpoint truncates the last file back to its checkpointed size, so
 * lines written after the checkpoint (and lost from the job's record by a crash) are not doubled.
 */
export class NdjsonSink implements ResourceSink {
  private readonly files: OutputFile[];
  private current: { out: OutputFile; file: AppendFile } | undefined;

  constructor(
    private readonly dir: string,
    private readonly maxLines: number,
    resume?: SinkState,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.files = resume ? resume.files.map((f) => ({ ...f })) : [];
    const last = this.files[this.files.length - 1];
    if (last) {
      const filePath = path.join(dir, last.file);
      const size = fs.existsSync(filePath) ? fs.statSync(filePath).size : -1;
      if (size < last.bytes) {
        throw new Error(`export file ${last.file} is shorter than recorded (${size} < ${last.bytes} bytes): cannot resume`);
      }
      fs.truncateSync(filePath, last.bytes);
      this.current = { out: last, file: new AppendFile(filePath, true) };
    }
  }

  async write(type: string, json: string): Promise<void> {
    if (!this.current || this.current.out.type !== type || this.current.out.count >= this.maxLines) {
      await this.current?.file.close();
      const n = this.files.filter((f) => f.type === type).length + 1;
      const out: OutputFile = { type, file: `${type}-${n}.ndjson`, count: 0, bytes: 0 };
      this.files.push(out);
      this.current = { out, file: new AppendFile(path.join(this.dir, out.file)) };
    }
    const line = `${json}\n`;
    await this.current.file.write(line);
    this.current.out.count++;
    this.current.out.bytes += Buffer.byteLength(line);
  }

  async flush(): Promise<SinkState> {
    await this.current?.file.flush();
    return { files: this.files.map((f) => ({ ...f })) };
  }

  async close(): Promise<OutputFile[]> {
    await this.current?.file.close();
    this.current = undefined;
    return this.files;
  }
}

/**
 * FHIR `collection` Bundles of at most `maxEntries` entries per file (`bundle-1.json`, …), for tools
 * that read Bundles rather than NDJSON. Written as a stream too: the Bundle's JSON is opened, entries
 * appended, and closed when the file is full.
 */
export class BundleSink implements ResourceSink {
  private readonly files: OutputFile[] = [];
  private current: { out: OutputFile; file: AppendFile } | undefined;

  constructor(
    private readonly dir: string,
    private readonly maxEntries: number,
    private readonly baseUrl?: string,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  async write(type: string, json: string): Promise<void> {
    if (!this.current || this.current.out.count >= this.maxEntries) {
      await this.finishFile();
      const out: OutputFile = { type: 'Bundle', file: `bundle-${this.files.length + 1}.json`, count: 0, bytes: 0 };
      this.files.push(out);
      this.current = { out, file: new AppendFile(path.join(this.dir, out.file)) };
      await this.append('{"resourceType":"Bundle","type":"collection","entry":[\n');
    }
    const id = /"id":"([^"]*)"/.exec(json)?.[1];
    const fullUrl = this.baseUrl && id ? `"fullUrl":${JSON.stringify(`${this.baseUrl}/${type}/${id}`)},` : '';
    await this.append(`${this.current.out.count > 0 ? ',\n' : ''}{${fullUrl}"resource":${json}}`);
    this.current.out.count++;
  }

  async flush(): Promise<SinkState> {
    await this.current?.file.flush();
    return { files: this.files.map((f) => ({ ...f })) };
  }

  async close(): Promise<OutputFile[]> {
    await this.finishFile();
    return this.files;
  }

  private async append(text: string): Promise<void> {
    await this.current!.file.write(text);
    this.current!.out.bytes += Buffer.byteLength(text);
  }

  private async finishFile(): Promise<void> {
    if (this.current) {
      await this.append('\n]}\n');
      await this.current.file.close();
      this.current = undefined;
    }
  }
}
