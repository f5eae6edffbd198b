// Baseline A: the ceiling of any Node HTTP service on this machine — node:http answering every request
// with a fixed JSON body, after receiving the request body as the broker must.
import { createServer } from 'node:http';

const ANSWER = Buffer.from('{"message_id":0}');
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(ANSWER.length) };

const server = createServer((req, res) => {
  // Drain without buffering: reading the bytes is a cost every real service pays; parsing them is not
  // part of this ceiling.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, HEADERS);
    res.end(ANSWER);
  });
});

server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
