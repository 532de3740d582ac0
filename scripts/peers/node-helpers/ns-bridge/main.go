// ns-bridge joins the root network namespace and the test node's namespace with sockets only,
// so the root namespace never gets an interface, address or route (its 192.0.2.0/24 is the
// machine's live network):
//
//	-forward IP:PORT=HOST:PORT  listen inside the node namespace, dial HOST:PORT in the root one
//	                            (kubelet and pods -> kube-apiserver, moto, the metadata mock)
//	-connect PATH               HTTP CONNECT on a unix socket in the root namespace, for
//	                            kube-apiserver's egress selector (exec, logs -> kubelet, pods);
//	                            targets inside -inside CIDRs are dialed in the node namespace,
//	                            others in the root one.
//
// It prints "ready" once every listener is bound, and exits on SIGTERM or SIGINT.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

var nsPath string

// inNamespace runs fn on an OS thread moved into the node namespace. The thread is never
// unlocked, so Go retires it when fn returns instead of reusing it in the wrong namespace.
func inNamespace[T any](fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := syscall.Open(nsPath, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			var zero T
			ch <- result{zero, err}
			return
		}
		defer syscall.Close(fd)
		if _, _, errno := syscall.RawSyscall(sysSetns, uintptr(fd), syscall.CLONE_NEWNET, 0); errno != 0 {
			var zero T
			ch <- result{zero, fmt.Errorf("setns %s: %w", nsPath, errno)}
			return
		}
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if c, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = c.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}

func forward(spec string) error {
	listen, target, ok := strings.Cut(spec, "=")
	if !ok {
		return fmt.Errorf("-forward %q: want LISTEN=TARGET", spec)
	}
	ln, err := inNamespace(func() (net.Listener, error) { return net.Listen("tcp", listen) })
	if err != nil {
		return fmt.Errorf("listen %s in %s: %w", listen, nsPath, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				up, err := net.DialTimeout("tcp", target, 5*time.Second)
				if err != nil {
					c.Close()
					return
				}
				pipe(c, up)
			}()
		}
	}()
	return nil
}

func connectProxy(sock string, inside []*net.IPNet) error {
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	dialInside := func(host string) bool {
		ip := net.ParseIP(host)
		for _, n := range inside {
			if ip != nil && n.Contains(ip) {
				return true
			}
		}
		return false
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
					c.Close()
					return
				}
				host, _, _ := net.SplitHostPort(req.Host)
				dial := func() (net.Conn, error) { return net.DialTimeout("tcp", req.Host, 5*time.Second) }
				var up net.Conn
				if dialInside(host) {
					up, err = inNamespace(dial)
				} else {
					up, err = dial()
				}
				if err != nil {
					_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					c.Close()
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				if n := br.Buffered(); n > 0 {
					buf, _ := br.Peek(n)
					_, _ = up.Write(buf)
				}
				pipe(c, up)
			}()
		}
	}()
	return nil
}

func main() {
	var forwards, insides list
	var connect string
	flag.StringVar(&nsPath, "netns", "", "the node namespace, e.g. /run/netns/node0")
	flag.Var(&forwards, "forward", "LISTEN=TARGET (repeatable)")
	flag.StringVar(&connect, "connect", "", "unix socket for HTTP CONNECT")
	flag.Var(&insides, "inside", "CIDR dialed inside the node namespace (repeatable)")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "ns-bridge:", err)
		os.Exit(1)
	}
	if nsPath == "" {
		fail(fmt.Errorf("-netns is required"))
	}
	for _, f := range forwards {
		if err := forward(f); err != nil {
			fail(err)
		}
	}
	if connect != "" {
		var nets []*net.IPNet
		for _, c := range insides {
			_, n, err := net.ParseCIDR(c)
			if err != nil {
				fail(err)
			}
			nets = append(nets, n)
		}
		if err := connectProxy(connect, nets); err != nil {
			fail(err)
		}
	}
	fmt.Println("ready")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
}
