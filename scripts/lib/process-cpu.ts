// CPU time of other processes (the servers a bench measures), from Linux's /proc: what a request costs
// the server, apart from how fast the load generator on the same cores could send it.
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Clock ticks per second of /proc's utime and stime: 100 on every Linux this runs on (USER_HZ). */
const TICKS_PER_SECOND = 100;

/**
 * User plus system CPU seconds of every thread of these processes so far, or undefined where /proc
 * cannot tell (another OS, a process gone).
 */
export function processCpuSeconds(pids: readonly number[]): number | undefined {
  if (os.platform() !== 'linux' || pids.length === 0) return undefined;
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
    // After the command's name (in parentheses, which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}
