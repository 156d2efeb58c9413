/**
 * docker's human-readable sizes and durations (github.com/docker/go-units), so `berth images`
 * prints "4.26MB" and "2 hours ago" exactly where docker does.
 */
import { goFormatG } from './template.js';

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSizeWithPrecision: decimal units, `%.*g` formatting (so 999.5 → "1e+03B" as in Go). */
export function humanSizeWithPrecision(size: number, precision: number): string {
  let i = 0;
  while (size >= 1000 && i < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return goFormatG(size, precision) + DECIMAL_UNITS[i]!;
}

/** go-units HumanSize: four significant digits. */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

export { humanDuration } from '../../util/human-duration.js';
import { humanDuration } from '../../util/human-duration.js';

/** "2 hours ago" for a unix time in seconds, as docker's CreatedSince columns. */
export function timeAgo(unixSeconds: number, now: number = Date.now()): string {
  return humanDuration(now - unixSeconds * 1000) + ' ago';
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

function localParts(d: Date): { date: string; time: string; offsetMin: number } {
  return {
    date: `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`,
    time: `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`,
    offsetMin: -d.getTimezoneOffset(),
  };
}

function zoneName(d: Date, offsetMin: number): string {
  if (offsetMin === 0 && !process.env['TZ']) return 'UTC';
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'UTC';
}

/** Go's time.Time.String() in local time: "2024-09-26 21:31:42 +0000 UTC". */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const p = localParts(d);
  const sign = p.offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(p.offsetMin);
  return `${p.date} ${p.time} ${sign}${pad2(Math.trunc(abs / 60))}${pad2(abs % 60)} ${zoneName(d, p.offsetMin)}`;
}

/** Go's time.RFC3339 in local time: "2024-09-26T21:31:42Z" or "...+02:00". */
export function rfc3339(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const p = localParts(d);
  if (p.offsetMin === 0) return `${p.date}T${p.time}Z`;
  const sign = p.offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(p.offsetMin);
  return `${p.date}T${p.time}${sign}${pad2(Math.trunc(abs / 60))}:${pad2(abs % 60)}`;
}

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** go-units BytesSize: binary units, `%.4g` ("7.771GiB"), as `docker info` shows memory. */
export function bytesSize(size: number): string {
  let i = 0;
  while (size >= 1024 && i < BINARY_UNITS.length - 1) {
    size /= 1024;
    i++;
  }
  return goFormatG(size, 4) + BINARY_UNITS[i]!;
}
