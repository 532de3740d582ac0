// The attacking pod of flood-in-memory-cgroup.test.ts, in a process of its own so that its work
// does not slow the legitimate pod's SDK in the test process (not a test file).
// Each round opens `connections` sockets from `from`, writes `depth` pipelined GETs on each in one
// go and never reads an answer (the answers pile up in the proxy), then closes them. Prints one
// JSON line: rounds, sockets opened, socket errors, bytes written.
import { connect } from 'node:net';

const [port, from, token, path, rounds, connections, depth, roundMs] = process.argv.slice(2);
const request = `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\nx-aws-ec2-metadata-token: ${token}\r\n\r\n`;
const payload = Buffer.from(request.repeat(Number(depth)));
const stats = { rounds: 0, opened: 0, socketErrors: 0, bytesWritten: 0 };

for (let r = 0; r < Number(rounds); r++) {
  const sockets = [];
  for (let i = 0; i < Number(connections); i++) {
    const s = connect({ host: '127.0.0.1', port: Number(port), localAddress: from });
    stats.opened++;
    s.pause();
    s.on('error', () => stats.socketErrors++);
    s.on('connect', () => {
      s.write(payload);
      stats.bytesWritten += payload.length;
    });
    sockets.push(s);
  }
  await new Promise((resolve) => setTimeout(resolve, Number(roundMs)));
  for (const s of sockets) s.destroy();
  stats.rounds++;
}
console.log(JSON.stringify(stats));
