/** What the tests read of running processes, from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of every process now, with their argument lists (processes that end meanwhile are left out). */
export function processes(): { pid: number; args: string[] }[] {
  const out: { pid: number; args: string[] }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      out.push({ pid: Number(e), args: readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every descendant of a process. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const { pid: p } of processes()) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      parents.set(p, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parents)
      if (parent === p) {
        out.push(child);
        walk(child);
      }
  };
  walk(pid);
  return out;
}

/** True while the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The command line of a process, '' when it is gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
