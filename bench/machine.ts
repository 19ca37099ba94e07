import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** The machine's CPU time so far, from /proc/stat's first line (Linux; null elsewhere), in clock ticks. */
export interface CpuTimes {
  busy: number;
  idle: number;
  steal: number;
}

export function cpuTimes(): CpuTimes | null {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is already counted in user)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);
    return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal: steal ?? 0 };
  } catch {
    return null;
  }
}

/**
 * How long the process's main thread (its event loop) has been runnable but waiting for a core,
 * in ms, from /proc/<pid>/schedstat (Linux; null elsewhere): a loop late because the machine
 * gave its cores to other processes, not because the process was busy.
 */
export function runQueueWaitMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const waited = Number(readFileSync(`/proc/${pid}/schedstat`, 'latin1').split(' ')[1]);
    return Number.isFinite(waited) ? waited / 1e6 : null;
  } catch {
    return null;
  }
}

/** How the machine's cores were spent since `since`: the share busy, and the share the hypervisor gave other guests. */
export interface MachineShare {
  busyPercent: number;
  stolenPercent: number;
  loadAverage: number[];
}

export function machineShareSince(since: CpuTimes | null): MachineShare | null {
  const now = cpuTimes();
  if (!since || !now) return null;
  const busy = now.busy - since.busy;
  const idle = now.idle - since.idle;
  const steal = now.steal - since.steal;
  const total = busy + idle + steal;
  if (total <= 0) return null;
  return {
    busyPercent: (100 * busy) / total,
    stolenPercent: (100 * steal) / total,
    loadAverage: loadavg(),
  };
}

export function describeShare(share: MachineShare | null): string {
  if (!share) return 'the machine’s CPU share was not read (no /proc/stat)';
  const load = share.loadAverage.map((l) => l.toFixed(2)).join(', ');
  return `its cores ${share.busyPercent.toFixed(0)}% busy and ${share.stolenPercent.toFixed(1)}% stolen by the host (CPU time given to other guests), load average ${load} at the end`;
}
