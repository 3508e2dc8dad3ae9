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

/** Busy and total CPU ticks of the whole host (all cores) from /proc/stat; Linux only. */
export function hostTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  // cpu user nice system idle iowait irq softirq steal …: idle and iowait are the not-busy ones.
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** The host's busy share (0..100 %, all cores) between two hostTicks readings. */
export function hostBusyPct(
  from: { busy: number; total: number },
  to: { busy: number; total: number },
): number {
  const total = to.total - from.total;
  return total > 0 ? Math.round((1000 * (to.busy - from.busy)) / total) / 10 : 0;
}
