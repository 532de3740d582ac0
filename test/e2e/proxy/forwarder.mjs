// Runs inside the test's "node" network namespace: each `port=socket` argument listens on
// 0.0.0.0:port there and relays to a Unix socket that the test process serves from the host's
// loopback (Unix sockets are not bound to a network namespace). This is how the proxy and the pods
// reach the API server, moto and the metadata mock without any route between the namespaces.
import { createConnection, createServer } from 'node:net';

const specs = process.argv.slice(2);
let listening = 0;
for (const spec of specs) {
  const [port, socketPath] = spec.split('=');
  createServer((client) => {
    const upstream = createConnection(socketPath);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }).listen(Number(port), '0.0.0.0', () => {
    console.log(`forwarding ${port}`);
    // One line once every port listens: a caller waiting for each port's line in turn could miss
    // lines that arrived together.
    if (++listening === specs.length) console.log('forwarding all');
  });
}
