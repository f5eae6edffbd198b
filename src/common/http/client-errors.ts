// Requests Node rejects before any route runs (oversized headers or URL, malformed HTTP) still get a JSON answer.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A request line longer than this is what overflowed Node's header limit (16 KiB together with the headers):
 * the URL, almost always a `?message=` that belongs in a body.
 */
const LONG_REQUEST_LINE = 8 * 1024;

export function answerClientErrorsWithJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const { status, reason, detail, code } = describeClientError(err);
    const body = JSON.stringify({ detail, code, status });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

function describeClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }) {
  if (err.code !== 'HPE_HEADER_OVERFLOW') {
    return { status: 400, reason: 'Bad Request', detail: 'Malformed HTTP request', code: 'BAD_REQUEST' };
  }
  if (requestLineTooLong(err.rawPacket)) {
    return {
      status: 414,
      reason: 'URI Too Long',
      detail:
        'The request URL is too long (URL and headers must fit in 16 KiB). Send the message in the body instead of ?message=: ' +
        `POST it with Content-Type: application/json and {"message": "..."}`,
      code: 'URI_TOO_LONG',
    };
  }
  return {
    status: 431,
    reason: 'Request Header Fields Too Large',
    detail: 'Request headers are too large (URL and headers must fit in 16 KiB): send fewer or shorter headers or cookies',
    code: 'HEADERS_TOO_LARGE',
  };
}

/** The packet Node was parsing starts a request whose first line does not end within LONG_REQUEST_LINE bytes. */
function requestLineTooLong(packet: Buffer | undefined): boolean {
  if (!packet || !/^[A-Z]+ /.test(packet.subarray(0, 16).toString('latin1'))) return false;
  const end = packet.indexOf('\r\n');
  return end < 0 ? packet.length > LONG_REQUEST_LINE : end > LONG_REQUEST_LINE;
}
