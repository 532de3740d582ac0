// The baseline for bench/proxy/run.ts: a bare node:http server (node's defaults) that answers every
// request with the proxy's own cached-credential answer, captured from the running proxy: same
// status, same headers in the same order (node adds Date, Connection and Keep-Alive itself, as it
// does for the proxy), same body. Its keep-alive settings are the proxy's, read from the captured
// Keep-Alive header (`timeout=5, max=1000`): node writes them into every answer, and `max` makes
// both servers close a connection after as many requests. Run as its own process on the server core:
//   node bare-server.cjs <port>   with BENCH_REPLY = base64 of {"status", "headers": [[name, value]…], "body": base64, "keepAliveTimeoutMs", "maxRequestsPerSocket"}
import { createServer } from 'node:http';

interface Reply {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  keepAliveTimeoutMs: number;
  maxRequestsPerSocket: number;
}

const reply = JSON.parse(Buffer.from(process.env.BENCH_REPLY ?? '', 'base64').toString('utf8')) as Reply;
// A string, as the proxy writes it: node sends a string body in one write together with the headers.
const body = Buffer.from(reply.body, 'base64').toString('utf8');
const headers = reply.headers.flat();
const port = Number(process.argv[2]);

const server = createServer({ keepAliveTimeout: reply.keepAliveTimeoutMs }, (req, res) => {
  req.resume();
  res.writeHead(reply.status, headers);
  res.end(body);
});
server.maxRequestsPerSocket = reply.maxRequestsPerSocket;
server.listen(port, '127.0.0.1');

process.once('SIGTERM', () => process.exit(0));
