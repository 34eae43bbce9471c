// A UDP client for the stream tests: one datagram out, the first answer back.
import { createSocket } from 'node:dgram';

/** Sends `text` to 127.0.0.1:port and resolves with the answer; rejects when none comes within `timeoutMs`. */
export function askUdp(port: number, text: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = createSocket('udp4');
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no UDP answer within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once('message', (message) => {
      clearTimeout(timer);
      client.close();
      resolve(message.toString());
    });
    client.send(text, port, '127.0.0.1');
  });
}
