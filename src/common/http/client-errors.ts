// Requests Node rejects before any route runs (oversized headers, malformed HTTP) still get a JSON answer.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export function answerClientErrorsWithJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
    const body = JSON.stringify({
      detail: tooLarge ? 'Request headers are too large' : 'Malformed HTTP request',
      code: tooLarge ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST',
      status,
    });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
