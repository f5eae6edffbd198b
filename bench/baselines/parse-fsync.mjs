// Baseline C: the irreducible work of a durable batch produce, with nothing else — node:http reads the body,
// JSON.parses it ({"messages":[{"message":...}]}) or splits NDJSON and parses each line, frames the values
// into one buffer (u32 length + bytes each) under one zlib.crc32, group-commits every batch parsed in the same
// turn of the event loop into one write + fdatasync, and answers {"message_ids":[...],"partition":0,
// "base_offset":N}. Like the broker, the file is zero-filled ahead of the data so an fdatasync flushes data
// rather than committing a new file size. No validation, no framework, no index: the ceiling of a Node
// server that stores what it is sent.
import { fdatasync, fdatasyncSync, openSync, write, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

const PREALLOCATE_BYTES = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);
const dataDir = process.env.DATA_DIR;
if (!dataDir) throw new Error('DATA_DIR is required');
const fd = openSync(join(dataDir, 'baseline.log'), 'w+');
let size = 0;
let preallocatedTo = 0;
let nextOffset = 0;

/** Zero-fills ahead of `end` (synchronously: it happens once per 4 MiB, as the broker's preallocation). */
function preallocate(end) {
  if (end <= preallocatedTo) return;
  const target = end + PREALLOCATE_BYTES;
  for (let pos = preallocatedTo; pos < target; pos += ZEROS.length) writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, target - pos), pos);
  fdatasyncSync(fd);
  preallocatedTo = target;
}

/** The values of one request: JSON {"messages":[...]} or NDJSON lines, each {"message":"..."}. */
function values(body, ndjson) {
  const text = body.toString('utf8');
  if (!ndjson) return JSON.parse(text).messages.map((m) => m.message);
  const out = [];
  for (const line of text.split('\n')) if (line) out.push(JSON.parse(line).message);
  return out;
}

/** One frame: u32 total | u32 crc | (u32 length | value)* — one CRC over the whole batch. */
function frame(vals) {
  let total = 8;
  for (const v of vals) total += 4 + Buffer.byteLength(v);
  const buf = Buffer.allocUnsafe(total);
  let pos = 8;
  for (const v of vals) {
    const n = buf.write(v, pos + 4);
    buf.writeUInt32BE(n, pos);
    pos += 4 + n;
  }
  buf.writeUInt32BE(total, 0);
  buf.writeUInt32BE(crc32(buf.subarray(8)), 4);
  return buf;
}

let queue = [];
let flushing = false;

function flush() {
  const items = queue;
  queue = [];
  const buf = items.length === 1 ? items[0].buf : Buffer.concat(items.map((i) => i.buf));
  preallocate(size + buf.length);
  write(fd, buf, 0, buf.length, size, (err) => {
    if (err) throw err;
    size += buf.length;
    fdatasync(fd, (err2) => {
      if (err2) throw err2;
      for (const item of items) {
        const base = nextOffset;
        nextOffset += item.count;
        const ids = new Array(item.count);
        for (let i = 0; i < item.count; i++) ids[i] = base + i;
        const answer = JSON.stringify({ message_ids: ids, partition: 0, base_offset: base });
        item.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(answer) });
        item.res.end(answer);
      }
      if (queue.length > 0) setImmediate(flush);
      else flushing = false;
    });
  });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let vals;
    try {
      vals = values(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), String(req.headers['content-type']).includes('ndjson'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    queue.push({ buf: frame(vals), count: vals.length, res });
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  });
});

server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
