/**
 * A TCP proxy in front of the real Redis that a test can cut: it forwards
 * bytes both ways until told to fail, and can fail exactly when a client
 * sends a Lua script call (the worker's compare-and-set save), so that an
 * outage lands between the publish and the save of a batch every time.
 * While cut it closes every connection and stops listening, so that clients
 * see what a Redis that went down looks like: connection refused.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class RedisProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #redisUrl: string;
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #cut = false;
  #cutOnScript = false;
  /** Times a script call was refused. */
  scriptsRefused = 0;

  private constructor(server: Server, target: { host: string; port: number }, redisUrl: string) {
    this.#server = server;
    this.#target = target;
    this.#redisUrl = redisUrl;
  }

  /** Listens on a free local port and forwards to `redisUrl`'s host and port. */
  static async start(redisUrl: string): Promise<RedisProxy> {
    const u = new URL(redisUrl);
    const target = { host: u.hostname, port: Number(u.port || 6379) };
    const server = createServer();
    const proxy = new RedisProxy(server, target, redisUrl);
    server.on('connection', (client) => proxy.accept(client));
    await proxy.#listen(0);
    proxy.#port = (server.address() as AddressInfo).port;
    return proxy;
  }

  #listen(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  /** The URL clients use to go through the proxy (credentials and database of the original kept). */
  get url(): string {
    const u = new URL(this.#redisUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.#port);
    return u.toString();
  }

  get isCut(): boolean {
    return this.#cut;
  }

  /** From now on, the first script call (EVAL/EVALSHA) any client sends cuts Redis off, before it reaches Redis. */
  cutOnNextScript(): void {
    this.#cutOnScript = true;
  }

  /** Cuts every connection now and refuses new ones. */
  cut(): void {
    if (this.#cut) return;
    this.#cut = true;
    this.#cutOnScript = false;
    this.#server.close();
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  /** Listens (on the same port) and forwards again. */
  async restore(): Promise<void> {
    if (!this.#cut) return;
    await this.#listen(this.#port);
    this.#cut = false;
  }

  /** Stops for good (cut closes the listener and every connection). */
  close(): void {
    this.cut();
  }

  private accept(client: Socket): void {
    if (this.#cut) {
      client.destroy();
      return;
    }
    const upstream = connect(this.#target.port, this.#target.host);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    // The last bytes of the previous chunk, so that a command name split across chunks is still seen.
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      tail = text.slice(-16);
      if (this.#cutOnScript && /\r\nevalsha\r\n|\r\neval\r\n/i.test(text)) {
        this.scriptsRefused += 1;
        this.cut();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }
}
