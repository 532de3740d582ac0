// Preloaded (`node --import`) into a "pod" process in the demo's loopback mode (no root, so no
// network namespaces): every plain-HTTP request that brings no agent of its own — the AWS SDK's
// instance-metadata client is one — leaves from the pod's own loopback address, which is the
// podIP the proxy looks the caller up by. The SDK itself is not touched.
import http from 'node:http';

const localAddress = process.env.PODIAM_DEMO_SOURCE_ADDRESS;
if (localAddress) http.globalAgent = new http.Agent({ localAddress });
