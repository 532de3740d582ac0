// Runs inside the demo's "node" network namespace (not a module to import). The first argument
// is a file to create once every listener is up; each further argument is
//   tcp:PORT=unix:PATH   listen on 0.0.0.0:PORT here, relay each connection to the Unix socket PATH
//   unix:PATH=tcp:PORT   listen on the Unix socket PATH, relay to 127.0.0.1:PORT here
// Unix sockets belong to the file system, not to a network namespace: this is how the proxy and
// the pods reach moto, the API server and the metadata mock (which listen on the host's
// loopback), and how the host reads the proxy's metrics, with no route between the namespaces.
import { createConnection, createServer } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';

const servers = [];
const [readyFile, ...specs] = process.argv.slice(2);
for (const spec of specs) {
  const [from, to] = spec.split('=');
  const connect = to.startsWith('unix:') ? () => createConnection(to.slice(5)) : () => createConnection(Number(to.slice(4)), '127.0.0.1');
  const server = createServer((client) => {
    const upstream = connect();
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  servers.push(server);
  if (from.startsWith('unix:')) {
    rmSync(from.slice(5), { force: true });
    server.listen(from.slice(5));
  } else {
    server.listen(Number(from.slice(4)), '0.0.0.0');
  }
}
await Promise.all(servers.map((s) => (s.listening ? undefined : new Promise((resolve, reject) => { s.once('listening', resolve); s.once('error', reject); }))));
// The demo starts this under test/peers/process.ts's guard, which kills it when the demo ends.
writeFileSync(readyFile, 'ready');
console.log('forwarder ready');
