import { readFileSync } from "node:fs";

/** utime + stime of a process in clock ticks (USER_HZ) from /proc/<pid>/stat; Linux only, throws elsewhere. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The comm field may hold spaces, so fields count from its ")": rest[0] is field 3 (state);
  // utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]);
}

/** USER_HZ: the tick of /proc/<pid>/stat, 100 on every common Linux. */
export const TICKS_PER_SECOND = 100;
