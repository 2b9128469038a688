// keepalived's notify_fifo line format (vrrp_notify.c notify_fifo()), pure:
//   INSTANCE "VI_1" MASTER 100\n     (effective priority)
//   GROUP "VG_1" MASTER 0\n          (keepalived 2.2 writes priority 0 for a group)
import type { NotifyEvent } from './argv.js';

export function fifoLine(ev: NotifyEvent): string {
  return `${ev.kind} "${ev.name}" ${ev.state} ${ev.priority}\n`;
}
