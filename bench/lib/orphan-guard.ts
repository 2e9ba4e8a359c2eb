/**
 * Preloaded (`--import`) into every process a benchmark starts: exits when the benchmark that
 * started it is gone (killed with SIGKILL, say), so no gateway or processor outlives its run.
 */
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();
