// Timestamps as Date.prototype.toISOString() / toUTCString() write them, computed here instead.
//
// Why: on this V8 (node 20), both methods also look up the local time zone's display name through ICU
// (ToDateString computes it whatever the format), which pages ~1 MB of ICU code and time-zone data
// into the process at the first call and keeps it resident (measured: master RSS at N = 1, -0.8 MiB
// when the agent never calls them). Used for every timestamp the agent writes: each log line's "time"
// (log.ts), the status JSON (agent.ts, instance.ts, provider/runner/driver.ts) and the status server's
// Date header.

/** `YYYY-MM-DDTHH:mm:ss.sssZ` (UTC): new Date(ms).toISOString() for any valid time value (a fraction of a ms is cut, as Date cuts it). */
export function isoTime(time: number): string {
  const ms = Math.trunc(time);
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const p2 = (n: number) => (n < 10 ? '0' : '') + n;
  const y = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : (year < 0 ? '-' : '+') + String(Math.abs(year)).padStart(6, '0');
  return `${y}-${p2(month)}-${p2(day)}T${p2(h)}:${p2(m)}:${p2(s)}.${String(rest - s * 1000).padStart(3, '0')}Z`;
}

const DAYS = ['Thu', 'Fri', 'Sat', 'Sun', 'Mon', 'Tue', 'Wed']; // 1970-01-01 was a Thursday
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * An HTTP Date header value (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"): what
 * new Date(ms).toUTCString() gives for years 1000-9999. The status server sends it itself instead of
 * letting node (res.sendDate) call toUTCString() at every response.
 */
export function httpDate(ms: number): string {
  const iso = isoTime(ms); // YYYY-MM-DDTHH:mm:ss.sssZ
  const day = DAYS[((Math.floor(ms / 86_400_000) % 7) + 7) % 7];
  return `${day}, ${iso.slice(8, 10)} ${MONTHS[Number(iso.slice(5, 7)) - 1]} ${iso.slice(0, 4)} ${iso.slice(11, 19)} GMT`;
}
