// node-probe: the test pods' program (no shell in the image). It prints what the node test
// asserts on, one "key value" line each, then waits for SIGTERM:
//
//	addr <interface> <cidr>   every address the pod's network namespace has
//	whoami <user>             with -whoami: the identity the API server sees for the pod's
//	                          service-account token, reached in-cluster (KUBERNETES_SERVICE_HOST)
//	get <status> <body>       with -get URL: a plain HTTP GET (the body's first 200 bytes)
//
// With -once it exits after printing (for kubectl exec) instead of waiting.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func whoami() (string, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return "", err
	}
	caPem, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPem)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
	req, _ := http.NewRequest(http.MethodPost, "https://"+net.JoinHostPort(host, port)+"/apis/authentication.k8s.io/v1/selfsubjectreviews", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		Status struct {
			UserInfo struct {
				Username string `json:"username"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("status %d: %w", res.StatusCode, err)
	}
	return out.Status.UserInfo.Username, nil
}

func main() {
	askWho := flag.Bool("whoami", false, "ask the API server who the pod's token is")
	getURL := flag.String("get", "", "GET this URL once and print the answer")
	once := flag.Bool("once", false, "exit after printing")
	flag.Parse()
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			fmt.Printf("addr %s %s\n", i.Name, a.String())
		}
	}
	if *askWho {
		// Bounded: the API server may still be publishing the pod's token when the pod starts.
		for attempt := 0; attempt < 20; attempt++ {
			user, err := whoami()
			if err == nil && user != "" {
				fmt.Printf("whoami %s\n", user)
				break
			}
			fmt.Printf("whoami-error %v\n", err)
			time.Sleep(500 * time.Millisecond)
		}
	}
	if *getURL != "" {
		res, err := (&http.Client{Timeout: 5 * time.Second}).Get(*getURL)
		if err != nil {
			fmt.Printf("get-error %v\n", err)
		} else {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 200))
			res.Body.Close()
			fmt.Printf("get %d %s\n", res.StatusCode, strings.ReplaceAll(string(body), "\n", " "))
		}
	}
	if *once {
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
}
