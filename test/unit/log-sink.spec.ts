// LogSink: a destination that takes no writes (ENOSPC from /dev/full, a FIFO nobody reads) never blocks or
// throws; lines past the buffer are dropped and counted; the flush is bounded; buffered lines go out once it heals.
// ThrottledWarning: a fault answered on every request is logged once per window.
import { execFileSync } from 'node:child_process';
import { constants, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { LogSink } from '../../src/common/logging/log-sink';
import { ThrottledWarning } from '../../src/common/filters/throttled-warning';
import { makeTempDir, removeDir } from './support';

const line = (i: number) => `{"level":20,"n":${i},"msg":"${'x'.repeat(200)}"}\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LogSink', () => {
  const sinks: LogSink[] = [];
  // Each sink closes its own fd: a sink left retrying after its fd was closed writes into whatever file the next
  // test file (same jest worker) opens under that number (seen: segment files corrupt at byte 0).
  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
  });

  it('on a full device (ENOSPC): never throws or blocks, drops and counts what does not fit, flushes with a bound', async () => {
    const fd = openSync('/dev/full', 'w');
    let drops = 0;
    const sink = new LogSink({ fd, maxBufferedBytes: 4096, retryMs: 20, onDrop: () => drops++ });
    sinks.push(sink);
    const started = performance.now();
    for (let i = 0; i < 200; i++) sink.write(line(i));
    expect(performance.now() - started).toBeLessThan(100);
    // About 4096 / 230 lines fit in the buffer; the rest were dropped, each counted once.
    expect(drops).toBeGreaterThan(150);
    expect(sink.droppedLines).toBe(drops);
    await sleep(100); // failed writes retried on the timer: still no exception
    const flushStarted = performance.now();
    expect(await sink.drained(150)).toBe(false);
    expect(performance.now() - flushStarted).toBeLessThan(1000);
  });

  it('on a pipe nobody reads: drops past the buffer, and writes what it held once the pipe is read again', async () => {
    const dir = makeTempDir();
    try {
      const fifo = join(dir, 'stdout');
      execFileSync('mkfifo', [fifo]);
      // Both ends in one non-blocking descriptor: writes fill the pipe, then EAGAIN until it is read.
      const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
        let drops = 0;
      const sink = new LogSink({ fd, maxBufferedBytes: 8192, retryMs: 20, onDrop: () => drops++ });
      sinks.push(sink);
      // ~460 KiB against a 64 KiB pipe and an 8 KiB buffer, spread over time as a server logs (one burst would
      // only fill the buffer while the first write is in flight).
      let slowestWriteMs = 0;
      let acceptedBytes = 0;
      for (let i = 0; i < 2000; i++) {
        const started = performance.now();
        const dropsBefore = drops;
        sink.write(line(i));
        if (drops === dropsBefore) acceptedBytes += Buffer.byteLength(line(i));
        slowestWriteMs = Math.max(slowestWriteMs, performance.now() - started);
        if (i % 20 === 0) await sleep(2);
      }
      expect(slowestWriteMs).toBeLessThan(50);
      await sleep(200);
      expect(drops).toBeGreaterThan(1000);
      expect(await sink.drained(150)).toBe(false);

      // Someone reads the pipe again: the held lines go out (sonic-boom retries EAGAIN every 100 ms).
      const readAll = () => {
        const buf = Buffer.alloc(1 << 20);
        let total = 0;
        for (;;) {
          try {
            const n = readSync(fd, buf);
            if (n <= 0) return total;
            total += n;
          } catch {
            return total; // EAGAIN: empty for now
          }
        }
      };
      let read = readAll();
      const flushed = sink.drained(2000);
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline) {
        await sleep(50);
        read += readAll();
      }
      expect(await flushed).toBe(true);
      // Every line not dropped came out of the pipe, and nothing else.
      expect(read).toBe(acceptedBytes);
    } finally {
      removeDir(dir);
    }
  });
});

describe('ThrottledWarning', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('logs the first occurrence at once, then one line per window with the count of the others', () => {
    const logged: string[] = [];
    const w = new ThrottledWarning(10_000, (m) => logged.push(m));
    for (let i = 0; i < 500; i++) w.warn('STORAGE_UNAVAILABLE', 'disk full');
    w.warn('BACK_PRESSURE', 'queue full');
    expect(logged).toEqual(['disk full', 'queue full']);
    jest.advanceTimersByTime(10_000);
    expect(logged).toEqual(['disk full', 'queue full', 'disk full (499 more like this in the last 10 s)']);
    // Still occurring: one more line per window. Stopped: nothing more, and the next one logs at once.
    w.warn('STORAGE_UNAVAILABLE', 'disk full');
    jest.advanceTimersByTime(10_000);
    expect(logged).toHaveLength(4);
    jest.advanceTimersByTime(30_000);
    expect(logged).toHaveLength(4);
    w.warn('STORAGE_UNAVAILABLE', 'disk full again');
    expect(logged[4]).toBe('disk full again');
  });
});
