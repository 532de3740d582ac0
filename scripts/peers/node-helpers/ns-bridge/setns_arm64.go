package main

// setns(2) is not in package syscall; its number on linux/arm64.
const sysSetns = 268
