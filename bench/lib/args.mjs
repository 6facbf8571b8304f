// How a bench reads its BENCH_* settings and refuses a bad one: one line on stderr naming the
// bench, exit code 2, as the CLI does for a bad flag.

/** `stop(message)` exits 2 with the bench's name; `positiveInteger(name, fallback)` reads one setting. */
export function benchArguments(bench) {
  const stop = (message) => {
    process.stderr.write(`${bench}: ${message}\n`);
    process.exit(2);
  };
  const positiveInteger = (name, fallback, { zero = false } = {}) => {
    const value = Number(process.env[name] ?? fallback);
    if (!Number.isInteger(value) || value < (zero ? 0 : 1))
      stop(`${name} must be a whole number${zero ? "" : " above 0"}`);
    return value;
  };
  return { stop, positiveInteger };
}
