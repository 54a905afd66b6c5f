/**
 * The embedded server the examples talk to: node:http on 127.0.0.1, a free port, and a handler
 * told how many requests came before (`n`, from 0). Not an example itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type LocalServer = { readonly origin: string; readonly url: string; close(): Promise<void> };

export const serve = async (
  handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void | Promise<void>,
): Promise<LocalServer> => {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume(); // the examples never need the request body
    void Promise.resolve(handler(req, res, n++)).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: `${origin}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
