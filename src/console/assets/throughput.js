// Throughput computed in the browser from periodic GET /topics: the change in each topic's log end offsets
// (summed over partitions) between two samples, per second. Kept across page changes, last 60 samples per topic.
const KEEP = 60;

export class Throughput {
  constructor() {
    this.last = new Map(); // topic → {at, total}
    this.history = new Map(); // topic → rates (msg/s)
    this.overall = [];
    this.lastAt = 0;
  }

  /** Records one sample of every topic (the answer of GET /topics). */
  record(topics, at = performance.now()) {
    let sum = 0;
    let sampled = false;
    for (const t of topics) {
      const total = t.partition_details.reduce((n, p) => n + p.next_offset, 0);
      const prev = this.last.get(t.name);
      this.last.set(t.name, { at, total });
      if (!prev || at <= prev.at) continue;
      // A topic deleted and created again starts over: never a negative rate.
      const rate = Math.max(0, (total - prev.total) / ((at - prev.at) / 1000));
      const h = this.history.get(t.name) ?? [];
      h.push(rate);
      if (h.length > KEEP) h.shift();
      this.history.set(t.name, h);
      sum += rate;
      sampled = true;
    }
    if (sampled) {
      this.overall.push(sum);
      if (this.overall.length > KEEP) this.overall.shift();
    }
    for (const name of [...this.last.keys()]) {
      if (!topics.some((t) => t.name === name)) {
        this.last.delete(name);
        this.history.delete(name);
      }
    }
  }

  rates(topic) {
    return this.history.get(topic) ?? [];
  }

  current(topic) {
    const h = topic === undefined ? this.overall : this.rates(topic);
    return h.length ? h[h.length - 1] : null;
  }
}
