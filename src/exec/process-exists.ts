/**
 * Whether a process with this pid exists. Signal 0 checks without delivering anything; EPERM
 * means it exists but belongs to another user, which still makes a pid file's owner alive.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
