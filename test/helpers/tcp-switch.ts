/**
 * A loopback TCP forwarder that can be switched off and on, or frozen: with it off, connections are
 * refused, as when a real service is down; frozen, connections are accepted but no byte passes either
 * way (a stalled network or a hung server) until `thaw()`. Used to take the scorer or S3 away from the
 * edge functions in integration tests.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** One side of a forwarded connection: bytes held while frozen, flushed on thaw. */
interface Side {
  socket: Socket;
  held: Buffer[];
}

export class TcpSwitch {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private frozen = false;
  private readonly flushers = new Set<() => void>();

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  on(): Promise<void> {
    if (this.server) return Promise.resolve();
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      const a: Side = { socket: client, held: [] };
      const b: Side = { socket: upstream, held: [] };
      const cut = () => {
        this.flushers.delete(flush);
        client.destroy();
        upstream.destroy();
      };
      const flush = () => {
        for (const [from, to] of [
          [a, b],
          [b, a],
        ] as const) {
          for (const chunk of from.held.splice(0)) to.socket.write(chunk);
        }
      };
      this.flushers.add(flush);
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        this.sockets.add(from.socket);
        from.socket.on('data', (chunk) => {
          if (this.frozen) from.held.push(chunk);
          else to.socket.write(chunk);
        });
        // A side that ends while frozen gave up (a client's timeout): what it sent never arrives.
        from.socket.on('end', () => (this.frozen ? cut() : to.socket.end()));
        from.socket.on('close', () => {
          this.sockets.delete(from.socket);
          // Closed without an end (reset): cut the other side too; after an end it drains and ends.
          if (!to.socket.writableEnded) cut();
          else this.flushers.delete(flush);
        });
        from.socket.on('error', cut);
      }
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Stops listening and cuts open connections: new connections are refused. */
  off(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** Connections stay open (and new ones are accepted) but nothing passes until thaw(). */
  freeze(): void {
    this.frozen = true;
  }

  /** Lets bytes pass again, first those held on connections still open. */
  thaw(): void {
    this.frozen = false;
    for (const flush of this.flushers) flush();
  }
}
