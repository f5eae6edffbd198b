// A raw Server-Sent Events client for tests: one node:http request per stream (no agent, no pooling), the
// text/event-stream format parsed by hand, so tests see exactly what the server wrote and can pause the socket.
import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export interface StreamedMessage {
  message_id: number;
  partition: number;
  data: unknown;
  encoding: string;
  timestamp: number;
  key?: string;
  headers?: Record<string, string>;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** The id of the last event that had one (what EventSource would send back as Last-Event-ID). */
  lastEventId = '';
  /** Resolves when the response ends or its connection closes. */
  readonly closed: Promise<void>;
  closedAt: number | null = null;
  private buffer = '';
  private pending: SseEvent = { event: '', data: '' };
  private dataLines: string[] = [];
  private readonly watchers = new Set<() => void>();

  private constructor(readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    this.closed = new Promise((resolve) => {
      const done = () => {
        this.closedAt ??= Date.now();
        this.notify();
        resolve();
      };
      res.once('end', done);
      res.once('close', done);
      res.once('error', done);
    });
  }

  /** Opens a stream; resolves with the client once the status line and headers arrived (any status). */
  static open(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(`${baseUrl}${path}`, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => resolve(new SseClient(res)));
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  /** The data of every `message` event, parsed. */
  get messages(): StreamedMessage[] {
    return this.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as StreamedMessage);
  }

  /** Reads a non-stream answer (an error) as JSON. */
  async json(): Promise<Record<string, unknown>> {
    await this.closed;
    return JSON.parse(this.buffer) as Record<string, unknown>;
  }

  /** Resolves once `check` holds (checked after every event and at close); rejects after timeoutMs. */
  waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const watcher = () => {
        if (!check()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (${this.events.length} events, ${this.comments.length} comments)`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.watchers.delete(watcher);
      };
      this.watchers.add(watcher);
    });
  }

  /** Stops reading: the kernel buffers fill up and the server's writes stop being accepted. */
  pause(): void {
    this.res.pause();
  }

  resume(): void {
    this.res.resume();
  }

  /** Drops the connection abruptly, as a client that goes away does. */
  destroy(): void {
    this.res.destroy();
  }

  private feed(chunk: string): void {
    if (!this.res.headers['content-type']?.startsWith('text/event-stream')) {
      this.buffer += chunk;
      return;
    }
    this.buffer += chunk;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop()!;
    for (const line of lines) this.line(line);
    this.notify();
  }

  private line(line: string): void {
    if (line === '') {
      if (this.pending.id !== undefined) this.lastEventId = this.pending.id;
      if (this.dataLines.length > 0) this.events.push({ ...this.pending, event: this.pending.event || 'message', data: this.dataLines.join('\n') });
      this.pending = { event: '', data: '' };
      this.dataLines = [];
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.pending.event = value;
    else if (field === 'data') this.dataLines.push(value);
    else if (field === 'id') this.pending.id = value;
  }

  private notify(): void {
    for (const w of [...this.watchers]) w();
  }
}
