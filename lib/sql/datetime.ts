/**
 * Spark 3 date/time semantics for the SQL layer: session time zones, `CAST(ts AS STRING)`,
 * `CAST(string AS TIMESTAMP)` and the datetime patterns of `date_format`, `from_unixtime`,
 * `to_timestamp` and `unix_timestamp`.
 *
 * A TIMESTAMP value is a JS number: milliseconds since 1970-01-01T00:00:00Z, fractional below the
 * millisecond because Spark keeps microseconds (1 µs = 0.001 ms). Every function takes non-null
 * inputs and never throws on a number: NaN, ±Infinity and instants beyond ±MAX_EPOCH_MS give null.
 * A double holds whole microseconds exactly only for |ms| < 2^42 (years 1830–2109); further out
 * values are rounded to the nearest microsecond the double can tell apart.
 *
 * Time-zone rules come from Intl (Node's full ICU), cached per hour of UTC, so the hot path —
 * formatting rows of the same hours — does no Intl work; fixed offsets never touch Intl.
 *
 * Followed: Spark 3.1+ (DateTimeFormatterHelper, DateTimeUtils) over java.time with Locale.US, the
 * proleptic Gregorian calendar and non-ANSI mode (a bad string is null, not an error). Deliberately
 * different, or assumed:
 * - `to_timestamp(s)` without a pattern is Spark's CAST, i.e. parseTimestampString, not the
 *   default pattern; time-only strings need "now" passed in (Spark reads the clock).
 * - Spark's default EXCEPTION parser policy throws SparkUpgradeException where the new parser fails
 *   but Spark 2's would succeed (`yyyy-MM-dd` reading `2020-1-1`); here that is null too.
 * - `z` prints Java's abbreviation for common zones (Asia/Shanghai → CST), ICU's otherwise; `z`
 *   and `VV` read zone ids and offsets back, not names. G, F and v are not supported.
 * - Offsets are parsed as JDK 8's OffsetIdPrinterParser does; beyond ±MAX_EPOCH_MS (about
 *   ±285 000 years) values are null where Spark saturates at its Long limits.
 */
import { isLeft, isRight, left, right, type Either } from 'fp-ts/lib/Either.js';
import { closestMatch } from './errors.js';

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The largest |epoch ms| handled (about 285 000 years either side of 1970); beyond it, null. */
export const MAX_EPOCH_MS = 9e15;

/** The pattern `from_unixtime` and `unix_timestamp` use when none is given. */
export const DEFAULT_PATTERN = 'yyyy-MM-dd HH:mm:ss';

/** A local (wall-clock) date-time, proleptic Gregorian: month 1–12, micros 0–999 999 within the second. */
export interface LocalDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly micros: number;
}

/** A local date-time plus its ISO day of week: 1 = Monday … 7 = Sunday. */
export interface LocalFields extends LocalDateTime {
  readonly dayOfWeek: number;
}

export interface TimeZone {
  /** As Spark's ZoneId names it: region ids as given, offsets normalised (`+08:00`, `UTC+08:00`, `Z`). */
  readonly id: string;
  /** Minutes to add to UTC for local time at an instant (epoch ms); fractional for historical LMT offsets. */
  offsetMinutesAt(epochMs: number): number | null;
  /** The local date-time at an instant (epoch ms), rounded to whole microseconds. */
  toLocalFields(epochMs: number): LocalFields | null;
  /**
   * The instant (epoch ms) of a local date-time, as java.time's ZonedDateTime.of: a time in a DST
   * gap moves forward by the gap's length, a time in an overlap takes the earlier offset.
   * null for out-of-range or non-integer fields (month 13, 30 February, micros 1e6).
   */
  fromLocal(fields: LocalDateTime): number | null;
}

// ---------------------------------------------------------------- calendar arithmetic

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysInMonth = (year: number, month: number): number =>
  month === 2 && isLeapYear(year) ? 29 : (MONTH_DAYS[month - 1] ?? 0);

/** floor(ms / DAY), exact even where the quotient itself would round. */
function dayOf(ms: number): number {
  const days = Math.floor(ms / DAY);
  const rest = ms - days * DAY;
  return rest < 0 ? days - 1 : rest >= DAY ? days + 1 : days;
}

/** Scratch for the per-row hot path: one instant broken down, written by `fill`. */
interface Broken {
  whole: number; // instant, whole epoch ms
  offset: number; // ms, local = UTC + offset
  days: number; // local epoch day
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  micros: number;
}
const B: Broken = { whole: 0, offset: 0, days: 0, year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, micros: 0 };

/** Writes year/month/day of an epoch day into `out` (H. Hinnant's civil_from_days). */
function civil(days: number, out: { year: number; month: number; day: number }): void {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  out.day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  out.month = month;
  out.year = yoe + era * 400 + (month <= 2 ? 1 : 0);
}

/** ISO day of week of an epoch day: 1970-01-01 was a Thursday (4). */
const isoDayOfWeek = (days: number): number => ((((days + 3) % 7) + 7) % 7) + 1;

/** Splits an instant into whole ms and the microseconds past them (0–999), rounded; false when unusable. */
const S = { whole: 0, sub: 0 };
function splitInstant(ms: number): boolean {
  if (!(ms >= -MAX_EPOCH_MS && ms <= MAX_EPOCH_MS)) return false; // NaN fails both
  let whole = Math.floor(ms);
  let sub = Math.round((ms - whole) * 1000); // ms - whole is exact
  if (sub === 1000) {
    whole += 1;
    sub = 0;
  }
  S.whole = whole;
  S.sub = sub;
  return true;
}

/**
 * whole ms + sub µs as one correctly rounded double (the exact numerator when it fits), so
 * every path that builds the same instant builds the same number.
 */
function joinMicros(whole: number, sub: number): number {
  const numerator = whole * 1000 + sub;
  const ms = Number.isSafeInteger(numerator) ? numerator / 1000 : whole + sub / 1000;
  return ms === 0 ? 0 : ms; // no -0
}

/** Breaks an instant down into B in a zone; false for NaN/±Infinity/out of range. */
function fill(zone: Zone, ms: number): boolean {
  if (!splitInstant(ms)) return false;
  fillSplit(zone, S.whole, S.sub);
  return true;
}

function fillSplit(zone: Zone, whole: number, sub: number): void {
  const offset = zone.offsetMs(whole);
  const local = whole + offset;
  const days = dayOf(local);
  let rest = local - days * DAY;
  civil(days, B);
  B.whole = whole;
  B.offset = offset;
  B.days = days;
  B.hour = Math.floor(rest / HOUR);
  rest -= B.hour * HOUR;
  B.minute = Math.floor(rest / MINUTE);
  rest -= B.minute * MINUTE;
  B.second = Math.floor(rest / SECOND);
  B.micros = (rest - B.second * SECOND) * 1000 + sub;
}

/** The instant of validated local fields in a zone, or null beyond the supported range. */
function instantOfLocal(
  zone: Zone,
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  micros: number,
): number | null {
  if (Math.abs(year) > 300_000) return null; // far outside the range; keeps the arithmetic exact
  const local = daysFromCivil(year, month, day) * DAY + hour * HOUR + minute * MINUTE + second * SECOND;
  const whole = zone.instantOf(local) + Math.floor(micros / 1000);
  if (!(whole >= -MAX_EPOCH_MS && whole <= MAX_EPOCH_MS)) return null;
  return joinMicros(whole, micros % 1000);
}

const isIntIn = (value: number, low: number, high: number): boolean =>
  Number.isInteger(value) && value >= low && value <= high;

// ---------------------------------------------------------------- zones

abstract class Zone implements TimeZone {
  constructor(readonly id: string) {}

  /** The offset (ms) at an instant given in whole epoch ms. */
  abstract offsetMs(at: number): number;

  /** Short (`CST`) or full (`China Standard Time`) name at an instant, as pattern letter `z`. */
  zoneName(_at: number, _full: boolean): string {
    return this.id;
  }

  /**
   * The instant (whole ms) of a local time (whole ms): offsets a day either side bracket any one
   * transition (offsets stay within ±18 h), so a valid offset is one of them; none valid is a gap.
   */
  instantOf(local: number): number {
    const before = this.offsetMs(local - DAY);
    const after = this.offsetMs(local + DAY);
    let best = Number.NaN;
    if (this.offsetMs(local - before) === before) best = local - before;
    if (after !== before && this.offsetMs(local - after) === after && !(local - after >= best)) best = local - after;
    if (Number.isNaN(best) && after === before) {
      // two transitions within two days: take the offset in force at the first guess
      const offset = this.offsetMs(local - before);
      if (this.offsetMs(local - offset) === offset) best = local - offset;
    }
    // in a gap java.time shifts the local time forward by the gap: the instant keeps the offset before it
    return Number.isNaN(best) ? local - before : best;
  }

  offsetMinutesAt(epochMs: number): number | null {
    return splitInstant(epochMs) ? this.offsetMs(S.whole) / MINUTE : null;
  }

  toLocalFields(epochMs: number): LocalFields | null {
    if (!fill(this, epochMs)) return null;
    const { year, month, day, hour, minute, second, micros } = B;
    return { year, month, day, hour, minute, second, micros, dayOfWeek: isoDayOfWeek(B.days) };
  }

  fromLocal(fields: LocalDateTime): number | null {
    const { year, month, day, hour, minute, second, micros } = fields;
    if (!Number.isInteger(year) || !isIntIn(month, 1, 12) || !isIntIn(day, 1, daysInMonth(year, month))) return null;
    if (!isIntIn(hour, 0, 23) || !isIntIn(minute, 0, 59) || !isIntIn(second, 0, 59) || !isIntIn(micros, 0, 999_999)) {
      return null;
    }
    return instantOfLocal(this, year, month, day, hour, minute, second, micros);
  }
}

/** Offset names Java prints for `z` where they differ from ICU's en-US short names ([standard, daylight]). */
const JAVA_SHORT_NAMES: Readonly<Record<string, readonly [string, string]>> = (() => {
  const table: Record<string, readonly [string, string]> = {};
  const add = (names: readonly [string, string], ...ids: string[]): void => {
    for (const id of ids) table[id] = names;
  };
  add(['CST', 'CDT'], 'Asia/Shanghai', 'Asia/Chongqing', 'Asia/Chungking', 'Asia/Harbin', 'PRC', 'Asia/Taipei', 'ROC', 'Asia/Macau', 'Asia/Macao');
  add(['HKT', 'HKST'], 'Asia/Hong_Kong', 'Hongkong');
  add(['JST', 'JDT'], 'Asia/Tokyo', 'Japan');
  add(['KST', 'KDT'], 'Asia/Seoul', 'ROK');
  add(['SGT', 'SGT'], 'Asia/Singapore', 'Singapore');
  add(['IST', 'IST'], 'Asia/Kolkata', 'Asia/Calcutta');
  add(['GMT', 'BST'], 'Europe/London', 'GB');
  add(['GMT', 'IST'], 'Europe/Dublin', 'Eire');
  add(['MSK', 'MSK'], 'Europe/Moscow', 'W-SU');
  add(['AEST', 'AEDT'], 'Australia/Sydney', 'Australia/Melbourne', 'Australia/Canberra', 'Australia/ACT', 'Australia/NSW', 'Australia/Victoria');
  add(
    ['CET', 'CEST'],
    'CET', 'Europe/Paris', 'Europe/Berlin', 'Europe/Madrid', 'Europe/Rome', 'Europe/Amsterdam', 'Europe/Brussels', 'Europe/Vienna',
    'Europe/Zurich', 'Europe/Stockholm', 'Europe/Oslo', 'Europe/Copenhagen', 'Europe/Prague', 'Europe/Warsaw', 'Europe/Budapest',
  );
  return table;
})();

const FIXED_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  UTC: ['UTC', 'Coordinated Universal Time'],
  GMT: ['GMT', 'Greenwich Mean Time'],
};

class FixedZone extends Zone {
  constructor(
    id: string,
    private readonly offset: number,
  ) {
    super(id);
  }

  override offsetMs(): number {
    return this.offset;
  }

  override instantOf(local: number): number {
    return local - this.offset;
  }

  override zoneName(_at: number, full: boolean): string {
    const names = FIXED_NAMES[this.id];
    return names === undefined ? this.id : full ? names[1] : names[0];
  }
}

/** An hour whose offset changes at `at` (whole ms, folded time line). */
interface Transition {
  readonly at: number;
  readonly before: number;
  readonly after: number;
}

// The Gregorian calendar (and with it every recurring DST rule) repeats every 400 years, so
// instants past 2800 are folded into 2400–2800, after every one-off rule in tzdata; before
// Date's range the zone's earliest (LMT) offset applies.
const CYCLE_400_YEARS = 146097 * DAY;
const FOLD_FROM = Date.UTC(2800, 0, 1);
const INTL_MIN = -8.64e15;
const fold = (at: number): number =>
  at >= FOLD_FROM ? at - (Math.floor((at - FOLD_FROM) / CYCLE_400_YEARS) + 1) * CYCLE_400_YEARS : at < INTL_MIN ? INTL_MIN : at;

const MAX_CACHED_HOURS = 200_000;

class RegionZone extends Zone {
  private readonly hours = new Map<number, number | Transition>();
  private lastHour = Number.NaN;
  private lastEntry: number | Transition = 0;
  private names: Map<number, string> | undefined;

  constructor(
    id: string,
    private readonly fields: Intl.DateTimeFormat,
  ) {
    super(id);
  }

  override offsetMs(at: number): number {
    const t = fold(at);
    const hour = Math.floor(t / HOUR);
    let entry: number | Transition | undefined = hour === this.lastHour ? this.lastEntry : this.hours.get(hour);
    if (entry === undefined) {
      entry = this.hourEntry(hour);
      if (this.hours.size >= MAX_CACHED_HOURS) this.hours.clear();
      this.hours.set(hour, entry);
    }
    this.lastHour = hour;
    this.lastEntry = entry;
    return typeof entry === 'number' ? entry : t < entry.at ? entry.before : entry.after;
  }

  /** The offset of one UTC hour, or where in it the offset changes (tzdata transitions fall on whole seconds). */
  private hourEntry(hour: number): number | Transition {
    const start = hour * HOUR;
    const last = start + HOUR - SECOND;
    const before = this.intlOffset(start);
    const after = this.intlOffset(last);
    if (before === after) return before;
    let low = start; // has `before`
    let high = last; // has `after`
    while (high - low > SECOND) {
      const middle = low + Math.floor((high - low) / 2 / SECOND) * SECOND;
      if (this.intlOffset(middle) === before) low = middle;
      else high = middle;
    }
    return { at: high, before, after };
  }

  /** ICU's wall-clock fields at a whole second, minus that second. */
  private intlOffset(at: number): number {
    let year = 1970;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let bc = false;
    for (const part of this.fields.formatToParts(at)) {
      switch (part.type) {
        case 'year': year = Number(part.value); break;
        case 'month': month = Number(part.value); break;
        case 'day': day = Number(part.value); break;
        case 'hour': hour = Number(part.value) % 24; break; // some ICU versions say 24 for midnight
        case 'minute': minute = Number(part.value); break;
        case 'second': second = Number(part.value); break;
        case 'era': bc = part.value === 'BC'; break;
        default: break;
      }
    }
    if (bc) year = 1 - year;
    return daysFromCivil(year, month, day) * DAY + hour * HOUR + minute * MINUTE + second * SECOND - at;
  }

  /** ICU's canonical spelling of this zone's id. */
  resolvedId(): string {
    return this.fields.resolvedOptions().timeZone;
  }

  override zoneName(at: number, full: boolean): string {
    const t = fold(at);
    const key = Math.floor(t / HOUR) * 2 + (full ? 1 : 0);
    this.names ??= new Map();
    const cached = this.names.get(key);
    if (cached !== undefined) return cached;
    const name = this.computeName(t, full);
    if (this.names.size >= 10_000) this.names.clear();
    this.names.set(key, name);
    return name;
  }

  private computeName(t: number, full: boolean): string {
    const java = full ? undefined : JAVA_SHORT_NAMES[this.id];
    if (java !== undefined) {
      // daylight time: ahead of the smaller of the January and July offsets of that year
      const date = { year: 0, month: 0, day: 0 };
      civil(dayOf(t), date);
      const january = daysFromCivil(date.year, 1, 1) * DAY;
      const july = january + 181 * DAY;
      const standard = Math.min(this.offsetMs(january), this.offsetMs(july));
      return this.offsetMs(t) > standard ? java[1] : java[0];
    }
    const format = new Intl.DateTimeFormat('en-US', { timeZone: this.id, timeZoneName: full ? 'long' : 'short' });
    const name = format.formatToParts(t).find((part) => part.type === 'timeZoneName')?.value ?? this.id;
    // ICU's `GMT+8` is `GMT+08:00` in Java's fallback names
    const gmt = /^GMT([+-])(\d{1,2})(?::(\d\d))?$/.exec(name);
    return gmt === null ? name : `GMT${gmt[1]}${(gmt[2] ?? '').padStart(2, '0')}:${gmt[3] ?? '00'}`;
  }
}

/** A TimeZone made elsewhere, seen through its public methods. */
class ForeignZone extends Zone {
  constructor(private readonly inner: TimeZone) {
    super(inner.id);
  }

  override offsetMs(at: number): number {
    const minutes = this.inner.offsetMinutesAt(at);
    return minutes === null || !Number.isFinite(minutes) ? 0 : Math.round(minutes * MINUTE);
  }
}

const foreignZones = new WeakMap<TimeZone, Zone>();
function rulesOf(zone: TimeZone): Zone {
  if (zone instanceof Zone) return zone;
  let rules = foreignZones.get(zone);
  if (rules === undefined) {
    rules = new ForeignZone(zone);
    foreignZones.set(zone, rules);
  }
  return rules;
}

// ---------------------------------------------------------------- zone ids

/** java.time's ZoneId.SHORT_IDS, which Spark passes to ZoneId.of. */
const SHORT_IDS: Readonly<Record<string, string>> = {
  ACT: 'Australia/Darwin', AET: 'Australia/Sydney', AGT: 'America/Argentina/Buenos_Aires', ART: 'Africa/Cairo',
  AST: 'America/Anchorage', BET: 'America/Sao_Paulo', BST: 'Asia/Dhaka', CAT: 'Africa/Harare', CNT: 'America/St_Johns',
  CST: 'America/Chicago', CTT: 'Asia/Shanghai', EAT: 'Africa/Addis_Ababa', ECT: 'Europe/Paris',
  IET: 'America/Indiana/Indianapolis', IST: 'Asia/Kolkata', JST: 'Asia/Tokyo', MIT: 'Pacific/Apia', NET: 'Asia/Yerevan',
  NST: 'Pacific/Auckland', PLT: 'Asia/Karachi', PNT: 'America/Phoenix', PRT: 'America/Puerto_Rico',
  PST: 'America/Los_Angeles', SST: 'Pacific/Guadalcanal', VST: 'Asia/Ho_Chi_Minh', EST: '-05:00', MST: '-07:00', HST: '-10:00',
};

export const UTC: TimeZone = new FixedZone('UTC', 0);

const fixedZones = new Map<string, FixedZone>();
function fixedZone(id: string, offsetMs: number): FixedZone {
  let zone = fixedZones.get(id);
  if (zone === undefined) {
    zone = new FixedZone(id, offsetMs);
    if (fixedZones.size < 10_000) fixedZones.set(id, zone);
  }
  return zone;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/** ZoneOffset's id: `Z`, `+08:00`, `-05:30`, `+08:05:43`. */
function offsetId(totalSeconds: number): string {
  if (totalSeconds === 0) return 'Z';
  const abs = Math.abs(totalSeconds);
  const seconds = abs % 60;
  const text = `${totalSeconds < 0 ? '-' : '+'}${pad2(Math.floor(abs / 3600))}:${pad2(Math.floor(abs / 60) % 60)}`;
  return seconds === 0 ? text : `${text}:${pad2(seconds)}`;
}

const offsetZone = (totalSeconds: number): FixedZone => fixedZone(offsetId(totalSeconds), totalSeconds * SECOND);

/** ZoneOffset.of: `±h`, `±hh`, `±hh:mm`, `±hhmm`, `±hh:mm:ss`, `±hhmmss`, within ±18:00; seconds or undefined. */
function parseOffsetId(text: string): number | undefined {
  const match = /^([+-])(?:(\d)|(\d\d)|(\d\d):(\d\d)|(\d\d)(\d\d)|(\d\d):(\d\d):(\d\d)|(\d\d)(\d\d)(\d\d))$/.exec(text);
  if (match === null) return undefined;
  const [, sign, h1, h2, h3, m3, h4, m4, h5, m5, s5, h6, m6, s6] = match;
  const hours = Number(h1 ?? h2 ?? h3 ?? h4 ?? h5 ?? h6);
  const minutes = Number(m3 ?? m4 ?? m5 ?? m6 ?? 0);
  const seconds = Number(s5 ?? s6 ?? 0);
  if (hours > 18 || minutes > 59 || seconds > 59) return undefined;
  const total = hours * 3600 + minutes * 60 + seconds;
  if (total > 18 * 3600) return undefined;
  return sign === '-' ? -total : total;
}

let knownZoneIds: { readonly list: readonly string[]; readonly byLowerCase: ReadonlyMap<string, string> } | undefined;
function zoneIds(): NonNullable<typeof knownZoneIds> {
  if (knownZoneIds === undefined) {
    const list = [...Intl.supportedValuesOf('timeZone'), 'UTC', 'GMT'];
    knownZoneIds = { list, byLowerCase: new Map(list.map((id) => [id.toLowerCase(), id])) };
  }
  return knownZoneIds;
}

const regionZones = new Map<string, RegionZone | null>();

/** An IANA region zone through Intl (which ignores case); null when ICU does not know it. */
function regionZone(id: string): RegionZone | null {
  const cached = regionZones.get(id);
  if (cached !== undefined) return cached;
  let zone: RegionZone | null;
  try {
    const fields = new Intl.DateTimeFormat('en-US', {
      timeZone: id,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    zone = new RegionZone(id, fields);
  } catch {
    zone = null;
  }
  if (regionZones.size >= 10_000) regionZones.clear();
  regionZones.set(id, zone);
  return zone;
}

const REGION_ID = /^[A-Za-z][A-Za-z0-9~/._+-]+$/;

function unknownZone(text: string, why = ''): string {
  const suggestion = /^[A-Za-z]/.test(text) ? closestMatch(text, zoneIds().list) : undefined;
  return (
    `unknown time zone '${text}'${why}` +
    (suggestion === undefined
      ? " (expected a region id like 'Asia/Shanghai', an offset like '+08:00' or 'UTC+8', or 'Z')"
      : ` — did you mean '${suggestion}'?`)
  );
}

const zonesById = new Map<string, TimeZone>();

/**
 * A session time zone as Spark's `getZoneId` reads one (java.time ZoneId.of with SHORT_IDS):
 * region ids (`Asia/Shanghai`, `Etc/GMT-8`; case-sensitive as in Java), `Z`, offsets `±h[h]`,
 * `±hh[:]mm`, `±hh:mm:ss`, `±hhmmss` (plus Spark's `+8:00` and `+08:0` spellings), the same after
 * `UTC`, `GMT` or `UT`, and Java's three-letter SHORT_IDS (`CTT` = Asia/Shanghai, `EST` = -05:00).
 */
export function timeZone(id: string): Either<string, TimeZone> {
  const known = zonesById.get(id);
  if (known !== undefined) return right(known);
  const result = resolveZone(id);
  if (isRight(result) && zonesById.size < 10_000) zonesById.set(id, result.right);
  return result;
}

function resolveZone(text: string): Either<string, TimeZone> {
  // Spark's two pre-3.0 spellings: (+|-)h:mm and (+|-)hh:m
  const spelled = text
    .replace(/([+-])(\d):/, (_all, sign: string, hour: string) => `${sign}0${hour}:`)
    .replace(/([+-])(\d\d):(\d)$/, (_all, sign: string, hour: string, minute: string) => `${sign}${hour}:0${minute}`);
  const id = Object.hasOwn(SHORT_IDS, spelled) ? (SHORT_IDS[spelled] ?? spelled) : spelled;
  if (id === 'Z') return right(fixedZone('Z', 0));
  if (id.startsWith('+') || id.startsWith('-')) {
    const seconds = parseOffsetId(id);
    return seconds === undefined
      ? left(`invalid zone offset '${text}' (expected ±h, ±hh, ±hh:mm, ±hhmm, ±hh:mm:ss or ±hhmmss, at most 18:00)`)
      : right(offsetZone(seconds));
  }
  if (id === 'UTC' || id === 'GMT' || id === 'UT') return right(fixedZone(id, 0));
  const prefixed = /^(UTC|GMT|UT)([+-].*)$/.exec(id);
  if (prefixed !== null) {
    const [, prefix = '', offset = ''] = prefixed;
    const seconds = parseOffsetId(offset);
    if (seconds === undefined) {
      return left(`invalid zone offset '${text}' (expected ${prefix} followed by ±h, ±hh, ±hh:mm, ±hhmm, ±hh:mm:ss or ±hhmmss, at most 18:00)`);
    }
    return right(seconds === 0 ? fixedZone(prefix, 0) : fixedZone(`${prefix}${offsetId(seconds)}`, seconds * SECOND));
  }
  if (!REGION_ID.test(id)) return left(unknownZone(text));
  const zone = regionZone(id);
  if (zone === null) return left(unknownZone(text));
  // java.time region ids are case-sensitive; ICU's are not
  const canonical = zoneIds().byLowerCase.get(id.toLowerCase()) ?? zone.resolvedId();
  if (canonical !== id && canonical.toLowerCase() === id.toLowerCase()) {
    return left(`unknown time zone '${text}' (zone ids are case-sensitive) — did you mean '${canonical}'?`);
  }
  return right(zone);
}

/** The machine's time zone (what a JVM would default Spark's session zone to), UTC if ICU has none. */
export function systemTimeZone(): TimeZone {
  const id = new Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zone = typeof id === 'string' ? timeZone(id) : left('no system zone');
  return isRight(zone) ? zone.right : UTC;
}

// ---------------------------------------------------------------- CAST(ts AS STRING)

const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => (n < 10 ? `0${n}` : `${n}`));
const two = (n: number): string => TWO_DIGITS[n] ?? `${n}`;

/** The year as ISO_LOCAL_DATE prints it: at least 4 digits, `-` when negative, `+` past 9999. */
function isoYear(year: number): string {
  if (year >= 1000 && year <= 9999) return `${year}`;
  const digits = `${Math.abs(year)}`.padStart(4, '0');
  return year < 0 ? `-${digits}` : year > 9999 ? `+${digits}` : digits;
}

/** Microseconds 1–999 999 as a fraction without trailing zeros: 500000 → `5`, 123 → `000123`. */
function trimmedFraction(micros: number): string {
  let digits = 6;
  let value = micros;
  while (value % 10 === 0) {
    value /= 10;
    digits -= 1;
  }
  return `${value}`.padStart(digits, '0');
}

// Output rows repeat seconds (window bounds above all): the last texts per UTC second, direct-mapped.
const MEMO_SLOTS = 64;
const memoZones: Array<Zone | undefined> = new Array<Zone | undefined>(MEMO_SLOTS).fill(undefined);
const memoSeconds = new Float64Array(MEMO_SLOTS);
const memoTexts: string[] = new Array<string>(MEMO_SLOTS).fill('');
// and rows of one local hour share `yyyy-MM-dd HH:`, whatever the zone
let prefixHour = Number.NaN;
let prefixText = '';

/**
 * Spark's `CAST(ts AS STRING)` of an instant (epoch ms) in a session zone: `yyyy-MM-dd HH:mm:ss`,
 * then `.` and the microseconds without trailing zeros when there are any. Years outside
 * 0000–9999 as java.time's ISO_LOCAL_DATE prints them: `-0001-…`, `+10000-…`.
 * null for NaN, ±Infinity and |ms| > MAX_EPOCH_MS.
 */
export function formatTimestamp(epochMs: number, zone: TimeZone): string | null {
  if (!splitInstant(epochMs)) return null;
  const rules = rulesOf(zone);
  const { whole, sub } = S;
  const second = Math.floor(whole / SECOND);
  const micros = (whole - second * SECOND) * 1000 + sub;
  const slot = second & (MEMO_SLOTS - 1); // ToInt32 keeps the low bits of any safe integer
  let text: string;
  if (memoZones[slot] === rules && memoSeconds[slot] === second) {
    text = memoTexts[slot] ?? '';
  } else {
    const local = whole + rules.offsetMs(whole);
    const hour = Math.floor(local / HOUR);
    if (hour !== prefixHour) {
      fillSplit(rules, whole, sub);
      // `+` rather than a template: V8 builds long templates several times slower
      prefixText = isoYear(B.year) + '-' + two(B.month) + '-' + two(B.day) + ' ' + two(B.hour) + ':';
      prefixHour = hour;
    }
    const inHour = local - hour * HOUR;
    const minute = Math.floor(inHour / MINUTE);
    text = prefixText + two(minute) + ':' + two(Math.floor((inHour - minute * MINUTE) / SECOND));
    memoZones[slot] = rules;
    memoSeconds[slot] = second;
    memoTexts[slot] = text;
  }
  return micros === 0 ? text : text + '.' + trimmedFraction(micros);
}

/**
 * Seconds since the epoch (a numeric SQL value) as a TIMESTAMP in epoch ms, as Spark's
 * `CAST(numeric AS TIMESTAMP)` (so `to_timestamp(ms / 1000)` and `from_unixtime`'s argument):
 * truncated toward zero to whole microseconds. null for NaN, ±Infinity and out of range
 * (where Spark saturates at its Long limits, otsflow answers null).
 */
export function epochSecondsToMs(seconds: number): number | null {
  if (!Number.isFinite(seconds)) return null;
  // whole seconds multiply exactly; fractional ones go through micros as Spark's (d * 1e6).toLong does
  const ms = Number.isInteger(seconds) ? seconds * 1000 : Math.trunc(seconds * 1e6) / 1000;
  if (!(ms >= -MAX_EPOCH_MS && ms <= MAX_EPOCH_MS)) return null;
  return ms === 0 ? 0 : ms;
}

// ---------------------------------------------------------------- datetime patterns

type NumberField =
  | 'year'
  | 'month'
  | 'quarter'
  | 'day'
  | 'dayOfYear'
  | 'hourOfDay'
  | 'clockHourOfDay'
  | 'hourOfAmPm'
  | 'clockHourOfAmPm'
  | 'minute'
  | 'second';

/** java.time's SignStyle, the three a pattern can produce. */
type SignStyle = 'normal' | 'notNegative' | 'exceedsPad';

/**
 * A number field. `subsequent` is java.time's adjacent-value-parsing reservation: the digits the
 * fixed-width fields right after this one need (`yyyyMMdd` parses `20200729`), -1 when fixed.
 */
interface NumberItem {
  readonly kind: 'number';
  readonly field: NumberField;
  readonly min: number;
  readonly max: number;
  readonly sign: SignStyle;
  readonly reduced: boolean; // `yy`: two digits, base year 2000
  subsequent: number;
}

interface FractionItem {
  readonly kind: 'fraction';
  readonly min: number;
  readonly max: number;
  subsequent: number;
}

type TextField = 'month' | 'dayOfWeek' | 'amPm' | 'quarter';

type Item =
  | { readonly kind: 'literal'; readonly text: string }
  | NumberItem
  | FractionItem
  | { readonly kind: 'text'; readonly field: TextField; readonly full: boolean }
  | { readonly kind: 'offset'; readonly type: number; readonly noOffset: string } // type: OffsetIdPrinterParser.PATTERNS index
  | { readonly kind: 'localizedOffset'; readonly full: boolean }
  | { readonly kind: 'zoneId' }
  | { readonly kind: 'zoneName'; readonly full: boolean }
  | { readonly kind: 'optional'; readonly items: readonly Item[] };

type Mode = 'format' | 'parse';

/** One level of DateTimeFormatterBuilder: items plus the active value parser for adjacent parsing. */
class Section {
  readonly items: Item[] = [];
  private active = -1;

  constructor(readonly parent?: Section) {}

  literal(text: string): void {
    const last = this.items[this.items.length - 1];
    if (last?.kind === 'literal') this.items[this.items.length - 1] = { kind: 'literal', text: last.text + text };
    else this.items.push({ kind: 'literal', text });
    this.active = -1;
  }

  other(item: Item): void {
    this.items.push(item);
    this.active = -1;
  }

  /** DateTimeFormatterBuilder.appendValue: a fixed-width field reserves its width in the active one. */
  value(item: NumberItem | FractionItem): void {
    const fixed = item.min === item.max && (item.kind === 'fraction' || item.sign === 'notNegative');
    const base = this.items[this.active];
    if (base !== undefined && (base.kind === 'number' || base.kind === 'fraction')) {
      if (fixed) {
        base.subsequent += item.max;
        item.subsequent = -1;
        this.items.push(item);
        return;
      }
      base.subsequent = -1;
    }
    this.items.push(item);
    this.active = this.items.length - 1;
  }
}

const number = (field: NumberField, min: number, max: number, sign: SignStyle, reduced = false): NumberItem => ({
  kind: 'number',
  field,
  min,
  max,
  sign,
  reduced,
  subsequent: 0,
});

/** Adds one run of a pattern letter, or says what is wrong with it (after "'x' at index n "). */
function addLetter(section: Section, letter: string, count: number, mode: Mode): string | undefined {
  const tooMany = (most: number): string => `is repeated ${count} times (at most ${most})`;
  switch (letter) {
    case 'Y':
    case 'W':
    case 'w':
    case 'u':
    case 'e':
    case 'c':
      return 'is a week-based field, which Spark 3 rejects (use EXTRACT instead)';
    case 'A':
    case 'n':
    case 'N':
    case 'p':
      return 'is an illegal pattern character in Spark 3';
    case 'G':
      return 'is the era, which otsflow does not support';
    case 'v':
      return "is the generic zone name, which otsflow does not support (use 'z' or 'VV')";
    default:
      break;
  }
  if (mode === 'parse' && (letter === 'E' || letter === 'F' || letter === 'q' || letter === 'Q')) {
    return 'can only format: Spark 3 rejects it in parsing patterns';
  }
  switch (letter) {
    case 'y':
      if (count > 6) return tooMany(6);
      // Spark turns y into u (proleptic year, so negative years work)
      if (count === 2) section.value(number('year', 2, 2, 'notNegative', true));
      else section.value(number('year', count, 19, count < 4 ? 'normal' : 'exceedsPad'));
      return undefined;
    case 'M':
    case 'L':
    case 'Q':
    case 'q': {
      const field = letter === 'M' || letter === 'L' ? 'month' : 'quarter';
      if (count > 4) return tooMany(4);
      if (count === 1) section.value(number(field, 1, 19, 'normal'));
      else if (count === 2) section.value(number(field, 2, 2, 'notNegative'));
      else section.other({ kind: 'text', field, full: count === 4 });
      return undefined;
    }
    case 'E':
      if (count > 4) return tooMany(4);
      section.other({ kind: 'text', field: 'dayOfWeek', full: count === 4 });
      return undefined;
    case 'F':
      return 'is the aligned week of month, which otsflow does not support';
    case 'd':
    case 'H':
    case 'k':
    case 'K':
    case 'h':
    case 'm':
    case 's': {
      if (count > 2) return tooMany(2);
      const field = NUMBER_LETTERS[letter] ?? 'day';
      section.value(count === 1 ? number(field, 1, 19, 'normal') : number(field, 2, 2, 'notNegative'));
      return undefined;
    }
    case 'D':
      if (count > 3) return tooMany(3);
      section.value(count === 1 ? number('dayOfYear', 1, 19, 'normal') : number('dayOfYear', count, 3, 'notNegative'));
      return undefined;
    case 'a':
      if (count > 1) return tooMany(1);
      section.other({ kind: 'text', field: 'amPm', full: false });
      return undefined;
    case 'S':
      if (count > 9) return tooMany(9);
      if (mode === 'format') section.other({ kind: 'fraction', min: count, max: count, subsequent: -1 });
      else if (count === 1) section.value({ kind: 'fraction', min: 1, max: 1, subsequent: 0 });
      // Spark parses 1 to n fraction digits, which ends adjacent value parsing (java.time appendInternal)
      else section.other({ kind: 'fraction', min: 1, max: count, subsequent: -1 });
      return undefined;
    case 'V':
      if (count !== 2) return 'must appear exactly twice (VV, the zone id)';
      section.other({ kind: 'zoneId' });
      return undefined;
    case 'z':
      if (count > 4) return tooMany(4);
      section.other({ kind: 'zoneName', full: count === 4 });
      return undefined;
    case 'O':
      if (count !== 1 && count !== 4) return 'must appear once (GMT+8) or four times (GMT+08:00)';
      section.other({ kind: 'localizedOffset', full: count === 4 });
      return undefined;
    case 'X':
    case 'x': {
      if (count > 5) return tooMany(5);
      const zero = letter === 'X' ? 'Z' : count === 1 ? '+00' : count % 2 === 0 ? '+0000' : '+00:00';
      section.other({ kind: 'offset', type: count === 1 ? 1 : count + 1, noOffset: zero });
      return undefined;
    }
    case 'Z':
      if (count > 5) return tooMany(5);
      if (count < 4) section.other({ kind: 'offset', type: 3, noOffset: '+0000' });
      else if (count === 4) section.other({ kind: 'localizedOffset', full: true });
      else section.other({ kind: 'offset', type: 6, noOffset: 'Z' });
      return undefined;
    default:
      return `is not a pattern letter (quote literal text: '${letter}')`;
  }
}

const NUMBER_LETTERS: Readonly<Record<string, NumberField>> = {
  d: 'day',
  H: 'hourOfDay',
  k: 'clockHourOfDay',
  K: 'hourOfAmPm',
  h: 'clockHourOfAmPm',
  m: 'minute',
  s: 'second',
};

/** A pattern as java.time's appendPattern reads it after Spark's checks (convertIncompatiblePattern). */
function compilePattern(pattern: string, mode: Mode): Either<string, readonly Item[]> {
  const problem = (message: string): Either<string, never> => left(`datetime pattern '${pattern}': ${message}`);
  let section = new Section();
  let pos = 0;
  while (pos < pattern.length) {
    const char = pattern.charAt(pos);
    if ((char >= 'A' && char <= 'Z') || (char >= 'a' && char <= 'z')) {
      let end = pos + 1;
      while (pattern.charAt(end) === char) end += 1;
      const wrong = addLetter(section, char, end - pos, mode);
      if (wrong !== undefined) return problem(`'${char}' at index ${pos} ${wrong}`);
      pos = end;
    } else if (char === "'") {
      let end = pos + 1;
      for (; end < pattern.length; end++) {
        if (pattern.charAt(end) !== "'") continue;
        if (pattern.charAt(end + 1) === "'") end += 1;
        else break;
      }
      if (end >= pattern.length) return problem(`the quote at index ${pos} is never closed (write '' for a quote)`);
      const body = pattern.slice(pos + 1, end);
      section.literal(body === '' ? "'" : body.replaceAll("''", "'"));
      pos = end + 1;
    } else if (char === '[') {
      section = new Section(section);
      pos += 1;
    } else if (char === ']') {
      const parent = section.parent;
      if (parent === undefined) return problem(`']' at index ${pos} closes no optional section`);
      parent.other({ kind: 'optional', items: section.items });
      section = parent;
      pos += 1;
    } else if (char === '{' || char === '}' || char === '#') {
      return problem(`'${char}' at index ${pos} is reserved (quote it: '${char}')`);
    } else {
      section.literal(char);
      pos += 1;
    }
  }
  // optional sections left open end with the pattern
  for (let parent = section.parent; parent !== undefined; parent = section.parent) {
    parent.other({ kind: 'optional', items: section.items });
    section = parent;
  }
  return right(section.items);
}

// ---------------------------------------------------------------- formatting

const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const MONTH_SHORT = MONTH_NAMES.map((name) => name.slice(0, 3));
const DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const DAY_SHORT = DAY_NAMES.map((name) => name.slice(0, 3));
const QUARTER_NAMES = ['1st quarter', '2nd quarter', '3rd quarter', '4th quarter'];
const QUARTER_SHORT = ['Q1', 'Q2', 'Q3', 'Q4'];
const AM_PM = ['AM', 'PM'];

function numberValue(field: NumberField): number {
  switch (field) {
    case 'year': return B.year;
    case 'month': return B.month;
    case 'quarter': return Math.floor((B.month - 1) / 3) + 1;
    case 'day': return B.day;
    case 'dayOfYear': return B.days - daysFromCivil(B.year, 1, 1) + 1;
    case 'hourOfDay': return B.hour;
    case 'clockHourOfDay': return B.hour === 0 ? 24 : B.hour;
    case 'hourOfAmPm': return B.hour % 12;
    case 'clockHourOfAmPm': return B.hour % 12 === 0 ? 12 : B.hour % 12;
    case 'minute': return B.minute;
    case 'second': return B.second;
  }
}

/** NumberPrinterParser.format: zero-padded to `min`; `-` when negative; EXCEEDS_PAD adds `+` past the pad. */
function formatNumber(item: NumberItem): string {
  const value = numberValue(item.field);
  if (item.reduced) return two(Math.abs(value) % 100);
  if (item.min <= 2 && value >= 0 && value < 100) return item.min === 2 || value >= 10 ? two(value) : `${value}`;
  const digits = `${Math.abs(value)}`.padStart(item.min, '0');
  if (value < 0) return `-${digits}`;
  return item.sign === 'exceedsPad' && value >= 10 ** item.min ? `+${digits}` : digits;
}

function textValue(field: TextField, full: boolean): string {
  switch (field) {
    case 'month': return (full ? MONTH_NAMES : MONTH_SHORT)[B.month - 1] ?? '';
    case 'dayOfWeek': return (full ? DAY_NAMES : DAY_SHORT)[isoDayOfWeek(B.days) - 1] ?? '';
    case 'amPm': return AM_PM[B.hour < 12 ? 0 : 1] ?? '';
    case 'quarter': return (full ? QUARTER_NAMES : QUARTER_SHORT)[Math.floor((B.month - 1) / 3)] ?? '';
  }
}

/** OffsetIdPrinterParser.format; lower-case mm/ss in the PATTERNS entry are printed only when non-zero. */
function formatOffset(totalSeconds: number, type: number, noOffset: string): string {
  if (totalSeconds === 0) return noOffset;
  const abs = Math.abs(totalSeconds);
  const hours = Math.floor(abs / 3600) % 100;
  const minutes = Math.floor(abs / 60) % 60;
  const seconds = abs % 60;
  const colon = type % 2 === 0 ? ':' : '';
  let text = (totalSeconds < 0 ? '-' : '+') + two(hours);
  let printed = hours;
  if (type >= 3 || (type >= 1 && minutes > 0)) {
    text += colon + two(minutes);
    printed += minutes;
    if (type >= 7 || (type >= 5 && seconds > 0)) {
      text += colon + two(seconds);
      printed += seconds;
    }
  }
  return printed === 0 ? noOffset : text;
}

/** LocalizedOffsetIdPrinterParser.format: `GMT`, `GMT+8`, `GMT+5:30` (short) or `GMT+08:00` (full). */
function formatLocalizedOffset(totalSeconds: number, full: boolean): string {
  if (totalSeconds === 0) return 'GMT';
  const abs = Math.abs(totalSeconds);
  const hours = Math.floor(abs / 3600) % 100;
  const minutes = Math.floor(abs / 60) % 60;
  const seconds = abs % 60;
  let text = `GMT${totalSeconds < 0 ? '-' : '+'}`;
  if (full) {
    text += `${two(hours)}:${two(minutes)}`;
    if (seconds !== 0) text += `:${two(seconds)}`;
  } else {
    text += `${hours}`;
    if (minutes !== 0 || seconds !== 0) {
      text += `:${two(minutes)}`;
      if (seconds !== 0) text += `:${two(seconds)}`;
    }
  }
  return text;
}

/** The first `count` (1–9) digits of the fraction of a second, from its microseconds: java.time truncates. */
function fractionDigits(micros: number, count: number): string {
  const six = two(Math.floor(micros / 10_000)) + two(Math.floor(micros / 100) % 100) + two(micros % 100);
  return count === 6 ? six : count < 6 ? six.slice(0, count) : six + '000'.slice(0, count - 6);
}

/** One item's text for the instant in B. */
type Piece = (zone: Zone) => string;

/** Each item compiled once per pattern to a closure over its settings (the generic walk cost 3×). */
function compilePiece(item: Item): Piece {
  switch (item.kind) {
    case 'literal': {
      const text = item.text;
      return () => text;
    }
    case 'number': {
      if (item.min === 2 && !item.reduced && item.field !== 'year') {
        const field = item.field;
        return () => two(numberValue(field)); // two() falls back to plain digits past 99 (DD)
      }
      return () => formatNumber(item);
    }
    case 'fraction': {
      const count = item.max;
      return () => fractionDigits(B.micros, count);
    }
    case 'text': {
      const { field, full } = item;
      return () => textValue(field, full);
    }
    case 'offset':
    case 'localizedOffset': {
      // rows of one zone repeat the offset: keep the last text
      let lastSeconds = Number.NaN;
      let lastText = '';
      return () => {
        const seconds = Math.round(B.offset / SECOND);
        if (seconds !== lastSeconds) {
          lastText = item.kind === 'offset' ? formatOffset(seconds, item.type, item.noOffset) : formatLocalizedOffset(seconds, item.full);
          lastSeconds = seconds;
        }
        return lastText;
      };
    }
    case 'zoneId':
      return (zone) => zone.id;
    case 'zoneName': {
      const full = item.full;
      return (zone) => zone.zoneName(B.whole, full);
    }
    case 'optional': {
      const pieces = item.items.map(compilePiece); // every field of an instant is available: always printed
      return (zone) => joinPieces(pieces, zone);
    }
  }
}

function joinPieces(pieces: readonly Piece[], zone: Zone): string {
  let text = '';
  for (const piece of pieces) text += piece(zone);
  return text;
}

/** `date_format` / `from_unixtime` output: an instant (epoch ms) in a zone; null for NaN/±Infinity/out of range. */
export type Formatter = (epochMs: number, zone: TimeZone) => string | null;

/** `to_timestamp` / `unix_timestamp` input: epoch ms of a string, null when it does not match. */
export type Parser = (text: string, zone: TimeZone) => number | null;

const formatters = new Map<string, Either<string, Formatter>>();
const parsers = new Map<string, Either<string, Parser>>();

function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= 256) cache.clear(); // patterns are usually literals; a column of patterns stays bounded
  cache.set(key, value);
  return value;
}

/**
 * A Spark 3 datetime pattern for formatting (`date_format`, `from_unixtime`). Left names the
 * first letter Spark 3 or otsflow rejects, with its index in the pattern.
 */
export function compileFormatter(pattern: string): Either<string, Formatter> {
  const known = formatters.get(pattern);
  if (known !== undefined) return known;
  const compiled = compilePattern(pattern, 'format');
  if (isLeft(compiled)) return remember(formatters, pattern, compiled);
  const pieces = compiled.right.map(compilePiece);
  const formatter: Formatter = (epochMs, zone) => {
    const rules = rulesOf(zone);
    return fill(rules, epochMs) ? joinPieces(pieces, rules) : null;
  };
  return remember(formatters, pattern, right(formatter));
}

/**
 * A Spark 3 datetime pattern for parsing (`to_timestamp`, `unix_timestamp`): the whole text must
 * match (case-insensitively, as Spark's formatter); missing fields default to 1970-01-01 00:00:00;
 * a zone or offset in the text overrides the session zone. The parser returns null, never throws,
 * when the text does not match — Spark's non-ANSI behaviour.
 */
export function compileParser(pattern: string): Either<string, Parser> {
  const known = parsers.get(pattern);
  if (known !== undefined) return known;
  const compiled = compilePattern(pattern, 'parse');
  if (isLeft(compiled)) return remember(parsers, pattern, compiled);
  const items = compiled.right;
  const parser: Parser = (text, zone) => {
    const state = new ParseState();
    return parseItems(items, text, 0, state) === text.length ? resolveParsed(state, rulesOf(zone)) : null;
  };
  return remember(parsers, pattern, right(parser));
}

// ---------------------------------------------------------------- parsing

// ParseState slots (NaN = not parsed)
const P_YEAR = 0;
const P_MONTH = 1;
const P_DAY = 2;
const P_DAY_OF_YEAR = 3;
const P_HOUR_OF_DAY = 4; // H
const P_CLOCK_HOUR_OF_DAY = 5; // k
const P_HOUR_OF_AMPM = 6; // K
const P_CLOCK_HOUR_OF_AMPM = 7; // h
const P_MINUTE = 8;
const P_SECOND = 9;
const P_NANO = 10;
const P_AMPM = 11;
const P_OFFSET = 12; // seconds
const SLOTS = 13;

const SLOT_OF: Readonly<Record<NumberField, number>> = {
  year: P_YEAR,
  month: P_MONTH,
  quarter: -1, // rejected in parsing patterns
  day: P_DAY,
  dayOfYear: P_DAY_OF_YEAR,
  hourOfDay: P_HOUR_OF_DAY,
  clockHourOfDay: P_CLOCK_HOUR_OF_DAY,
  hourOfAmPm: P_HOUR_OF_AMPM,
  clockHourOfAmPm: P_CLOCK_HOUR_OF_AMPM,
  minute: P_MINUTE,
  second: P_SECOND,
};

class ParseState {
  values: number[] = new Array<number>(SLOTS).fill(Number.NaN);
  zone: Zone | undefined;

  /** java.time's setParsedField: the same field parsed twice must agree. */
  set(slot: number, value: number): boolean {
    const old = this.values[slot];
    if (old !== undefined && !Number.isNaN(old) && old !== value) return false;
    this.values[slot] = value;
    return true;
  }
}

const isDigit = (code: number): boolean => code >= 48 && code <= 57;

/** Case-insensitive match of `expected` at `pos` (Spark's formatter is parseCaseInsensitive). */
function matchesAt(text: string, pos: number, expected: string): boolean {
  if (pos + expected.length > text.length) return false;
  for (let i = 0; i < expected.length; i++) {
    const a = text.charAt(pos + i);
    const b = expected.charAt(i);
    if (a !== b && a.toUpperCase() !== b.toUpperCase() && a.toLowerCase() !== b.toLowerCase()) return false;
  }
  return true;
}

/** The end of what the items matched from `pos`, or -1. */
function parseItems(items: readonly Item[], text: string, start: number, state: ParseState): number {
  let pos = start;
  for (const item of items) {
    switch (item.kind) {
      case 'literal':
        if (!matchesAt(text, pos, item.text)) return -1;
        pos += item.text.length;
        break;
      case 'number': pos = parseNumber(item, text, pos, state); break;
      case 'fraction': pos = parseFraction(item, text, pos, state); break;
      case 'text': pos = parseText(item.field, item.full, text, pos, state); break;
      case 'offset': pos = parseOffset(item.type, item.noOffset, text, pos, state); break;
      case 'localizedOffset': pos = parseLocalizedOffset(item.full, text, pos, state); break;
      case 'zoneId':
      case 'zoneName': pos = parseZone(text, pos, state); break;
      case 'optional': {
        // a section that does not match is skipped, and what it parsed forgotten
        const values = state.values.slice();
        const zone = state.zone;
        const end = parseItems(item.items, text, pos, state);
        if (end < 0) {
          state.values = values;
          state.zone = zone;
        } else {
          pos = end;
        }
        break;
      }
    }
    if (pos < 0) return -1;
  }
  return pos;
}

/** NumberPrinterParser.parse in strict mode, adjacent value parsing included. */
function parseNumber(item: NumberItem, text: string, position: number, state: ParseState): number {
  const length = text.length;
  if (position >= length) return -1;
  let start = position;
  let negative = false;
  let positive = false;
  const sign = text.charAt(start);
  if (sign === '+') {
    if (item.sign !== 'exceedsPad') return -1;
    positive = true;
    start += 1;
  } else if (sign === '-') {
    if (item.sign === 'notNegative') return -1;
    negative = true;
    start += 1;
  }
  if (start + item.min > length) return -1;
  let width = item.max + Math.max(item.subsequent, 0);
  let end = start;
  for (let pass = 0; pass < 2; pass++) {
    const limit = Math.min(start + width, length);
    end = start;
    while (end < limit && isDigit(text.charCodeAt(end))) end += 1;
    if (end < start + item.min) return -1;
    if (item.subsequent > 0 && pass === 0) width = Math.max(item.min, end - start - item.subsequent);
    else break;
  }
  const digits = end - start;
  let value = Number(text.slice(start, end));
  if (negative) {
    if (value === 0) return -1; // no minus zero
    value = -value;
  } else if (item.sign === 'exceedsPad' && (positive ? digits <= item.min : digits > item.min)) {
    return -1; // '+' exactly when the digits exceed the pad width
  }
  if (item.reduced) value += 2000;
  return state.set(SLOT_OF[item.field], value) ? end : -1;
}

/** FractionPrinterParser.parse (no decimal point), keeping its off-by-one: a non-digit right after min-1 digits ends it. */
function parseFraction(item: FractionItem, text: string, position: number, state: ParseState): number {
  const length = text.length;
  if (position === length) return -1;
  const minEnd = position + item.min;
  if (minEnd > length) return -1;
  const maxEnd = Math.min(position + item.max, length);
  let pos = position;
  let total = 0;
  while (pos < maxEnd) {
    const digit = text.charCodeAt(pos++) - 48;
    if (digit < 0 || digit > 9) {
      if (pos < minEnd) return -1;
      pos -= 1;
      break;
    }
    total = total * 10 + digit;
  }
  return state.set(P_NANO, total * 10 ** (9 - (pos - position))) ? pos : -1;
}

function parseText(field: TextField, full: boolean, text: string, pos: number, state: ParseState): number {
  const names = field === 'month' ? (full ? MONTH_NAMES : MONTH_SHORT) : AM_PM; // E, Q are format-only
  const slot = field === 'month' ? P_MONTH : P_AMPM;
  let best = -1;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] ?? '';
    if (matchesAt(text, pos, name) && (best < 0 || name.length > (names[best] ?? '').length)) best = i;
  }
  if (best < 0) return -1;
  return state.set(slot, field === 'month' ? best + 1 : best) ? pos + (names[best] ?? '').length : -1;
}

/** OffsetIdPrinterParser.parse (java.time 11): the zero text, or sign, HH, then mm/MM and ss/SS as the type says. */
function parseOffset(type: number, noOffset: string, text: string, position: number, state: ParseState): number {
  if (position >= text.length) return -1;
  if (matchesAt(text, position, noOffset)) return state.set(P_OFFSET, 0) ? position + noOffset.length : -1;
  const seconds = parseSignedOffset(type, text, position);
  return seconds === undefined ? -1 : state.set(P_OFFSET, seconds) ? offsetEnd : -1;
}

let offsetEnd = 0;

/** Sign and offset fields at `position`; sets `offsetEnd`. */
function parseSignedOffset(type: number, text: string, position: number): number | undefined {
  const sign = text.charAt(position);
  if (sign !== '+' && sign !== '-') return undefined;
  const fields = [position + 1, 0, 0, 0];
  // each returns true on failure, as java.time's parseNumber
  const field = (index: number, required: boolean): boolean => {
    if (Math.floor((type + 3) / 2) < index) return false; // not in this type
    let pos = fields[0] ?? 0;
    if (type % 2 === 0 && index > 1) {
      if (pos + 1 > text.length || text.charAt(pos) !== ':') return required;
      pos += 1;
    }
    if (pos + 2 > text.length) return required;
    const tens = text.charCodeAt(pos) - 48;
    const units = text.charCodeAt(pos + 1) - 48;
    if (tens < 0 || tens > 9 || units < 0 || units > 9) return required;
    const value = tens * 10 + units;
    if (value > 59) return required;
    fields[index] = value;
    fields[0] = pos + 2;
    return false;
  };
  if (field(1, true) || field(2, type >= 3) || field(3, false)) return undefined;
  offsetEnd = fields[0] ?? 0;
  const total = (fields[1] ?? 0) * 3600 + (fields[2] ?? 0) * 60 + (fields[3] ?? 0);
  return sign === '-' ? -total : total;
}

/** LocalizedOffsetIdPrinterParser.parse: `GMT`, then optionally ±h[h][:mm[:ss]] (short) or ±hh:mm[:ss] (full). */
function parseLocalizedOffset(full: boolean, text: string, position: number, state: ParseState): number {
  if (!matchesAt(text, position, 'GMT')) return -1;
  let pos = position + 3;
  const end = text.length;
  const sign = text.charAt(pos);
  if (pos === end || (sign !== '+' && sign !== '-')) return state.set(P_OFFSET, 0) ? pos : -1;
  pos += 1;
  const digit = (at: number): number => {
    const code = text.charCodeAt(at) - 48;
    return code >= 0 && code <= 9 ? code : -1;
  };
  let hours: number;
  let minutes = 0;
  let seconds = 0;
  if (full) {
    const h1 = digit(pos);
    const h2 = digit(pos + 1);
    if (h1 < 0 || h2 < 0 || text.charAt(pos + 2) !== ':') return -1;
    const m1 = digit(pos + 3);
    const m2 = digit(pos + 4);
    if (m1 < 0 || m2 < 0) return -1;
    hours = h1 * 10 + h2;
    minutes = m1 * 10 + m2;
    pos += 5;
    if (pos + 2 < end && text.charAt(pos) === ':' && digit(pos + 1) >= 0 && digit(pos + 2) >= 0) {
      seconds = digit(pos + 1) * 10 + digit(pos + 2);
      pos += 3;
    }
  } else {
    hours = digit(pos);
    if (hours < 0) return -1;
    pos += 1;
    if (pos < end) {
      if (digit(pos) >= 0) {
        hours = hours * 10 + digit(pos);
        pos += 1;
      }
      if (pos + 2 < end && text.charAt(pos) === ':' && digit(pos + 1) >= 0 && digit(pos + 2) >= 0) {
        minutes = digit(pos + 1) * 10 + digit(pos + 2);
        pos += 3;
        if (pos + 2 < end && text.charAt(pos) === ':' && digit(pos + 1) >= 0 && digit(pos + 2) >= 0) {
          seconds = digit(pos + 1) * 10 + digit(pos + 2);
          pos += 3;
        }
      }
    }
  }
  const total = hours * 3600 + minutes * 60 + seconds;
  return state.set(P_OFFSET, sign === '-' ? -total : total) ? pos : -1;
}

const ZONE_ID_CHAR = /[A-Za-z0-9~/._+-]/;

/**
 * ZoneIdPrinterParser.parse (`VV`, and `z` here too): an offset, `UTC`/`GMT`/`UT` with or without
 * one, a region id (the longest that is one, any case), or `Z`. Zone names (`CST`, `China Standard
 * Time`) are not read back, except those that are also ids.
 */
function parseZone(text: string, position: number, state: ParseState): number {
  const length = text.length;
  if (position >= length) return -1;
  const first = text.charAt(position);
  if (first === '+' || first === '-') return parsePrefixedZone('', text, position, state);
  const head = text.slice(position, position + 3).toUpperCase();
  if (head === 'UTC') return parsePrefixedZone('UTC', text, position + 3, state);
  if (head.startsWith('UT')) return parsePrefixedZone('UT', text, position + 2, state);
  if (head === 'GMT') {
    if (text.charAt(position + 3) === '0') {
      state.zone = fixedZone('GMT0', 0);
      return position + 4;
    }
    return parsePrefixedZone('GMT', text, position + 3, state);
  }
  let end = position;
  while (end < length && end - position < 64 && ZONE_ID_CHAR.test(text.charAt(end))) end += 1;
  for (; end - position >= 2; end--) {
    const zone = regionZoneAnyCase(text.slice(position, end));
    if (zone !== null) {
      state.zone = zone;
      return end;
    }
  }
  if (first === 'Z' || first === 'z') {
    state.zone = fixedZone('Z', 0);
    return position + 1;
  }
  return -1;
}

/** ZoneIdPrinterParser.parseOffsetBased: `prefix` then, when one follows, an offset +HH:MM:ss. */
function parsePrefixedZone(prefix: string, text: string, position: number, state: ParseState): number {
  const bare = (): number => {
    state.zone = fixedZone(prefix, 0);
    return position;
  };
  if (prefix !== '' && (position >= text.length || text.charAt(position) === '0' || matchesAt(text, position, 'Z'))) return bare();
  const seconds = parseSignedOffset(6, text, position);
  // no offset after UTC/GMT/UT: the bare prefix; an offset beyond ±18:00: no match
  if (seconds === undefined) return prefix === '' ? -1 : bare();
  if (Math.abs(seconds) > 18 * 3600) return -1;
  if (prefix === '') state.zone = offsetZone(seconds);
  else state.zone = seconds === 0 ? fixedZone(prefix, 0) : fixedZone(`${prefix}${offsetId(seconds)}`, seconds * SECOND);
  return offsetEnd;
}

const REGION_ID_START = /^[A-Za-z]/;
function regionZoneAnyCase(id: string): RegionZone | null {
  if (!REGION_ID_START.test(id)) return null;
  return regionZone(zoneIds().byLowerCase.get(id.toLowerCase()) ?? id);
}

/** Spark's toLocalDate/toLocalTime over java.time's STRICT resolver, then ZonedDateTime.of. */
function resolveParsed(state: ParseState, sessionZone: Zone): number | null {
  const v = state.values;
  const get = (slot: number): number => v[slot] ?? Number.NaN;
  const has = (slot: number): boolean => !Number.isNaN(get(slot));

  // hours: k and h fold into H and K; a with K gives H; what is left must agree
  let hourOfDay = get(P_HOUR_OF_DAY);
  if (has(P_CLOCK_HOUR_OF_DAY)) {
    const k = get(P_CLOCK_HOUR_OF_DAY);
    if (k < 1 || k > 24) return null;
    const hour = k === 24 ? 0 : k;
    if (!Number.isNaN(hourOfDay) && hourOfDay !== hour) return null;
    hourOfDay = hour;
  }
  let hourOfAmPm = get(P_HOUR_OF_AMPM);
  if (has(P_CLOCK_HOUR_OF_AMPM)) {
    const h = get(P_CLOCK_HOUR_OF_AMPM);
    if (h < 1 || h > 12) return null;
    const hour = h === 12 ? 0 : h;
    if (!Number.isNaN(hourOfAmPm) && hourOfAmPm !== hour) return null;
    hourOfAmPm = hour;
  }
  if (!Number.isNaN(hourOfAmPm) && (hourOfAmPm < 0 || hourOfAmPm > 11)) return null;
  const amPm = get(P_AMPM);
  let hour: number;
  if (!Number.isNaN(amPm) && !Number.isNaN(hourOfAmPm)) {
    const fromAmPm = amPm * 12 + hourOfAmPm;
    if (!Number.isNaN(hourOfDay) && hourOfDay !== fromAmPm) return null;
    hour = fromAmPm;
  } else if (!Number.isNaN(hourOfDay)) {
    if (!Number.isNaN(amPm) && Math.floor(hourOfDay / 12) !== amPm) return null;
    if (!Number.isNaN(hourOfAmPm) && hourOfDay % 12 !== hourOfAmPm) return null;
    hour = hourOfDay;
  } else if (!Number.isNaN(hourOfAmPm)) {
    hour = hourOfAmPm; // no a: Spark takes the morning
  } else {
    hour = amPm === 1 ? 12 : 0;
  }
  const minute = has(P_MINUTE) ? get(P_MINUTE) : 0;
  const second = has(P_SECOND) ? get(P_SECOND) : 0;
  const micros = has(P_NANO) ? Math.floor(get(P_NANO) / 1000) : 0;
  if (!isIntIn(hour, 0, 23) || !isIntIn(minute, 0, 59) || !isIntIn(second, 0, 59)) return null;

  // date: year defaults to 1970; a day of year fixes month and day, which must then agree
  const year = has(P_YEAR) ? get(P_YEAR) : 1970;
  if (!Number.isInteger(year) || Math.abs(year) > 999_999_999) return null;
  let month: number;
  let day: number;
  if (has(P_DAY_OF_YEAR)) {
    const dayOfYear = get(P_DAY_OF_YEAR);
    if (!isIntIn(dayOfYear, 1, isLeapYear(year) ? 366 : 365)) return null;
    const date = { year: 0, month: 0, day: 0 };
    civil(daysFromCivil(year, 1, 1) + dayOfYear - 1, date);
    if ((has(P_MONTH) && get(P_MONTH) !== date.month) || (has(P_DAY) && get(P_DAY) !== date.day)) return null;
    month = date.month;
    day = date.day;
  } else {
    month = has(P_MONTH) ? get(P_MONTH) : 1;
    day = has(P_DAY) ? get(P_DAY) : 1;
    if (!isIntIn(month, 1, 12) || !isIntIn(day, 1, daysInMonth(year, month))) return null;
  }

  // a zone id in the text wins over an offset in it, which wins over the session zone
  let zone: Zone = sessionZone;
  if (state.zone !== undefined) zone = state.zone;
  else if (has(P_OFFSET)) {
    const offset = get(P_OFFSET);
    if (Math.abs(offset) > 18 * 3600) return null;
    zone = offsetZone(offset);
  }
  return instantOfLocal(zone, year, month, day, hour, minute, second, micros);
}

// ---------------------------------------------------------------- CAST(string AS TIMESTAMP)

/** Spark trims bytes that are whitespace or ISO control characters: everything up to space, and DEL. */
const isTrimmed = (code: number): boolean => code <= 0x20 || code === 0x7f;

/**
 * Spark's lenient `CAST(string AS TIMESTAMP)` (DateTimeUtils.stringToTimestamp) in a session zone:
 * `[+-]yyyy[yy]`, `…-[m]m`, `…-[m]m-[d]d`, then ` ` or `T` and `[h]h[:[m]m[:[s]s[.fraction]]]`
 * (fraction digits past 6 truncated), an optional zone after the seconds (`Z`, `+08:00`, `UTC+8`,
 * ` Asia/Shanghai`), surrounding whitespace ignored. Time-only strings (`10:30:00`, `T10:30`)
 * take today's date in the zone, so they need `nowMs` (epoch ms of "now"); without it they are
 * null. Returns epoch ms, or null when Spark's cast gives null.
 */
export function parseTimestampString(text: string, zone: TimeZone, nowMs?: number): number | null {
  let start = 0;
  let end = text.length;
  while (start < end && isTrimmed(text.charCodeAt(start))) start += 1;
  while (end > start && isTrimmed(text.charCodeAt(end - 1))) end -= 1;
  if (start === end) return null;

  const segments = [1, 1, 1, 0, 0, 0, 0, 0, 0];
  const validDigits = (segment: number, digits: number): boolean =>
    segment === 6 ||
    (segment === 0 && digits >= 4 && digits <= 6) ||
    (segment === 7 && digits <= 2) ||
    (segment !== 0 && segment !== 6 && segment !== 7 && digits > 0 && digits <= 2);
  let i = 0;
  let value = 0;
  let digits = 0;
  let fractionDigits = 0;
  let justTime = false;
  let yearSign = 0;
  let zoneText: string | undefined;
  let j = start;
  const first = text.charAt(j);
  if (first === '-' || first === '+') {
    yearSign = first === '-' ? -1 : 1;
    j += 1;
  }
  // one segment ends: false when its digit count is wrong
  const close = (segment: number): boolean => {
    if (!validDigits(segment, digits)) return false;
    segments[segment] = value;
    value = 0;
    digits = 0;
    return true;
  };
  for (; j < end; j++) {
    const b = text.charAt(j);
    const digit = text.charCodeAt(j) - 48;
    if (digit >= 0 && digit <= 9) {
      if (i === 6) fractionDigits += 1;
      if (i !== 6 || digits < 6) value = value * 10 + digit; // fraction past micros is truncated
      digits += 1;
      continue;
    }
    if (j === start && b === 'T') {
      justTime = true;
      i += 3;
    } else if (i < 2) {
      if (b === '-') {
        if (!close(i)) return null;
        i += 1;
      } else if (i === 0 && b === ':' && yearSign === 0) {
        justTime = true;
        if (!close(3)) return null;
        i = 4;
      } else {
        return null;
      }
    } else if (i === 2) {
      if (b !== ' ' && b !== 'T') return null;
      if (!close(i)) return null;
      i += 1;
    } else if (i === 3 || i === 4) {
      if (b !== ':') return null;
      if (!close(i)) return null;
      i += 1;
    } else if (i === 5 || i === 6) {
      if (b === '.' && i === 5) {
        if (!close(i)) return null;
        i += 1;
      } else {
        // anything else after the seconds (or the fraction) starts the zone
        if (!close(i)) return null;
        i += 1;
        zoneText = text.slice(j, end);
        j = end;
      }
      if (i === 6 && b !== '.') i += 1;
    } else {
      return null;
    }
  }
  if (!validDigits(i, digits)) return null;
  segments[i] = value;
  let micros = segments[6] ?? 0;
  for (; fractionDigits < 6; fractionDigits++) micros *= 10;

  let target = rulesOf(zone);
  if (zoneText !== undefined) {
    let from = 0;
    while (from < zoneText.length && zoneText.charCodeAt(from) <= 0x20) from += 1;
    const parsed = timeZone(zoneText.slice(from));
    if (isLeft(parsed)) return null;
    target = rulesOf(parsed.right);
  }
  let year = (segments[0] ?? 0) * (yearSign === 0 ? 1 : yearSign);
  let month = segments[1] ?? 0;
  let day = segments[2] ?? 0;
  const hour = segments[3] ?? 0;
  const minute = segments[4] ?? 0;
  const second = segments[5] ?? 0;
  if (justTime) {
    if (nowMs === undefined || !fill(target, nowMs)) return null;
    ({ year, month, day } = B);
  }
  if (!isIntIn(month, 1, 12) || !isIntIn(day, 1, daysInMonth(year, month))) return null;
  if (!isIntIn(hour, 0, 23) || !isIntIn(minute, 0, 59) || !isIntIn(second, 0, 59)) return null;
  return instantOfLocal(target, year, month, day, hour, minute, second, micros);
}
