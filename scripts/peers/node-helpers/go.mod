// The real node's small helpers (issue 12), standard library only: pause (the pod sandbox
// image's process) and ns-bridge (sockets between the root namespace and the node's).
module podiam.local/peers/node-helpers

go 1.24.0
