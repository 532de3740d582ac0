// PID 1 of the app test image: idles until the kubelet stops the pod, then exits at once.
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1 << 30);
