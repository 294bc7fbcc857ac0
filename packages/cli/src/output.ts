import { once } from 'node:events';

/**
 * Writes lines to a stream in chunks and honours backpressure, so that a long
 * sequence piped into a slow consumer neither floods memory nor costs a
 * syscall per line.
 */
export class LineWriter {
  private readonly stream: NodeJS.WritableStream;
  private readonly chunkBytes: number;
  private pending: string[] = [];
  private pendingLength = 0;

  constructor(stream: NodeJS.WritableStream, chunkBytes = 64 * 1024) {
    this.stream = stream;
    this.chunkBytes = chunkBytes;
  }

  /** Queues `line` plus a newline; flushes when a chunk is full. */
  async line(line: string): Promise<void> {
    this.pending.push(line, '\n');
    this.pendingLength += line.length + 1;
    if (this.pendingLength >= this.chunkBytes) await this.flush();
  }

  /** Writes everything queued and waits until the stream accepts more. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    if (!this.stream.write(chunk)) {
      // once() rejects if the stream errors while we wait (e.g. EPIPE).
      await once(this.stream, 'drain');
    }
  }
}
