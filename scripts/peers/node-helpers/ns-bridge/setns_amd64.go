package main

// setns(2) is not in package syscall; its number on linux/amd64.
const sysSetns = 308
