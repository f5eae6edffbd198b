// Reads GET /topics/{topic}/stream with fetch() rather than EventSource: fetch can send the API key as a header
// (EventSource cannot send headers, and a key in the URL would end up in history and proxy logs). It parses the
// text/event-stream format itself and reconnects like EventSource does, sending Last-Event-ID so nothing is
// skipped or repeated.
import { authHeaders } from './api.js';

const MAX_BACKOFF_MS = 15000;

export class TopicTail {
  /**
   * @param {string} url the stream URL (query included)
   * @param {{onEvent: (type: string, data: any, id: string) => void, onState: (state: string, detail?: string) => void}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.lastEventId = '';
    this.retryMs = 1000;
    this.controller = null;
    this.stopped = true;
  }

  start(lastEventId = '') {
    this.stop();
    this.lastEventId = lastEventId;
    this.stopped = false;
    void this.loop();
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
    this.controller = null;
  }

  async loop() {
    let failures = 0;
    while (!this.stopped) {
      this.handlers.onState(failures === 0 ? 'connecting' : 'reconnecting');
      const controller = (this.controller = new AbortController());
      let waitMs = this.retryMs;
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
        const res = await fetch(this.url, { headers, signal: controller.signal, cache: 'no-store' });
        if (!res.ok) {
          const body = await res.json().catch(() => ({}));
          const detail = body.detail || `${res.status} ${res.statusText}`;
          if (res.status !== 503 && res.status !== 429) {
            // 4xx: reconnecting would get the same answer.
            this.handlers.onState('failed', detail);
            return;
          }
          waitMs = Number(res.headers.get('Retry-After') || 1) * 1000;
          this.handlers.onState('reconnecting', detail);
        } else {
          failures = 0;
          const ended = await this.read(res.body);
          if (ended === 'topic_deleted') {
            this.handlers.onState('failed', 'The topic was deleted');
            return;
          }
        }
      } catch (err) {
        if (this.stopped) return;
        this.handlers.onState('reconnecting', err?.message);
      }
      if (this.stopped) return;
      failures++;
      await sleep(Math.min(waitMs * Math.max(1, failures), MAX_BACKOFF_MS));
    }
  }

  /** Parses the event stream until it ends; answers the reason of an `end` event, if one came. */
  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = { type: '', data: [], id: null };
    let endReason = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return endReason;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === '') {
          if (event.id !== null) this.lastEventId = event.id;
          if (event.data.length > 0) {
            const type = event.type || 'message';
            let data = event.data.join('\n');
            try {
              data = JSON.parse(data);
            } catch {
              /* keep the text */
            }
            if (type === 'ready') this.handlers.onState('live');
            if (type === 'end') endReason = data?.reason ?? 'ended';
            this.handlers.onEvent(type, data, this.lastEventId);
          }
          event = { type: '', data: [], id: null };
          continue;
        }
        if (line.startsWith(':')) {
          this.handlers.onEvent('heartbeat', line.slice(1).trim(), this.lastEventId);
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'event') event.type = val;
        else if (field === 'data') event.data.push(val);
        else if (field === 'id' && !val.includes('\0')) event.id = val;
        else if (field === 'retry' && /^\d+$/.test(val)) this.retryMs = Number(val);
      }
    }
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
