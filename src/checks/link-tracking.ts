// track.interfaces from the agent's link watcher: an interface is "up" when it exists and is
// running (IFF_UP and carrier, as LinkWatcher's `up`); otherwise the reason says what is wrong. The
// agent calls this for a member on every link event of any interface the member tracks.
import type { LinkWatcher } from '../net/link-watch.js';
import type { InstanceTracker } from './tracker.js';

export function applyTrackedInterfaces(tracker: InstanceTracker, watcher: Pick<LinkWatcher, 'link'>, only?: string): void {
  for (const ifname of tracker.interfaces) {
    if (only !== undefined && ifname !== only) continue;
    const link = watcher.link(ifname);
    if (!link) tracker.setInterface(ifname, false, `tracked interface ${ifname} does not exist`);
    else if (!link.up) tracker.setInterface(ifname, false, `tracked interface ${ifname} is ${link.operstate === 'up' ? 'not running' : link.operstate}`);
    else tracker.setInterface(ifname, true, '');
  }
}
