import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/** One notification request as the receiver saw it. */
export interface Received {
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The per-subscription event number (`X-FHIR-Event-Number`). */
  event: number;
  /** `Type/id/_history/n` (`X-FHIR-Resource`). */
  resource: string;
  /** What the receiver answered (0: no answer, the connection was dropped). */
  status: number;
  at: number;
}

/** What to answer the nth request (0-based): a status, or `hang` to never answer. */
export type Behaviour = (n: number, req: Omit<Received, 'status' | 'at'>) => number | 'hang';

/**
 * A rest-hook receiver on 127.0.0.1 (real sockets, as an EHR endpoint would be). It can go down
 * (port closed: connection refused) and come back on the same port, and answer per request.
 */
export class Receiver {
  readonly received: Received[] = [];
  behaviour: Behaviour = () => 200;
  port = 0;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<http.ServerResponse>();

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Only the answered-with-2xx requests: what the server may consider delivered. */
  get acknowledged(): Received[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  async up(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = {
          method: req.method ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          event: Number(req.headers['x-fhir-event-number']),
          resource: String(req.headers['x-fhir-resource']),
        };
        const answer = this.behaviour(this.received.length, seen);
        const record: Received = { ...seen, status: answer === 'hang' ? 0 : answer, at: Date.now() };
        this.received.push(record);
        if (answer === 'hang') {
          this.hanging.add(res);
          return;
        }
        res.writeHead(answer).end();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the port and every connection: the next request is refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) {
      return;
    }
    this.hanging.clear();
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Waits until `predicate` holds (polling), or fails with `what` after `ms`. */
  async until(predicate: (r: Receiver) => boolean, what: string, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate(this)) {
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${what}; received: ${JSON.stringify(this.received.map((r) => [r.event, r.status]))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

export async function waitFor<T>(probe: () => Promise<T>, ok: (value: T) => boolean, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value)) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
