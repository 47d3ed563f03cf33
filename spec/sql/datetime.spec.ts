import fc from 'fast-check';
import { isLeft, isRight, type Either } from 'fp-ts/lib/Either.js';
import { describe, expect, it, vi } from 'vitest';
import {
  compileFormatter,
  compileParser,
  DEFAULT_PATTERN,
  epochSecondsToMs,
  formatTimestamp,
  MAX_EPOCH_MS,
  parseTimestampString,
  systemTimeZone,
  timeZone,
  UTC,
  type Formatter,
  type Parser,
  type TimeZone,
} from '../../lib/sql/datetime.js';

function ok<T>(result: Either<string, T>): T {
  if (isLeft(result)) throw new Error(result.left);
  return result.right;
}

function problem(result: Either<string, unknown>): string {
  if (isRight(result)) throw new Error('expected a Left');
  return result.left;
}

const zone = (id: string): TimeZone => ok(timeZone(id));
const formatter = (pattern: string): Formatter => ok(compileFormatter(pattern));
const parser = (pattern: string): Parser => ok(compileParser(pattern));

/** Epoch ms of a UTC date-time, any year (Date.UTC maps years 0–99 to 1900–1999). */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
}

const SHANGHAI = zone('Asia/Shanghai');
const NEW_YORK = zone('America/New_York');
const KOLKATA = zone('Asia/Kolkata');
const LORD_HOWE = zone('Australia/Lord_Howe');

// The seed job: a 30 s window starting at 1595990610000 (10:43:30 in Shanghai, 02:43:30 UTC)
// and a record whose tunnel timestamp is 1595990621936075 µs.
const SEED_WINDOW_START = 1595990610000;
const SEED_RECORD = 1595990621936.075;

describe('timeZone', () => {
  it.each([
    ['Asia/Shanghai', 'Asia/Shanghai', 480],
    ['UTC', 'UTC', 0],
    ['GMT', 'GMT', 0],
    ['Etc/GMT-8', 'Etc/GMT-8', 480],
    ['US/Eastern', 'US/Eastern', -240],
    ['Z', 'Z', 0],
    ['+08:00', '+08:00', 480],
    ['-0530', '-05:30', -330],
    ['+8', '+08:00', 480],
    ['-08', '-08:00', -480],
    ['+8:00', '+08:00', 480], // Spark's pre-3.0 spelling
    ['+08:3', '+08:03', 483], // ditto
    ['+08:05:43', '+08:05:43', 485 + 43 / 60],
    ['-083015', '-08:30:15', -(510 + 15 / 60)],
    ['+00:00', 'Z', 0],
    ['UTC+8', 'UTC+08:00', 480],
    ['GMT+08:00', 'GMT+08:00', 480],
    ['GMT+8:00', 'GMT+08:00', 480],
    ['UT-3', 'UT-03:00', -180],
    ['UTC+0', 'UTC', 0],
    ['CTT', 'Asia/Shanghai', 480], // java.time SHORT_IDS
    ['EST', '-05:00', -300],
    ['PST', 'America/Los_Angeles', -420],
  ])('%s is %s, %d minutes ahead in July 2020', (text, id, minutes) => {
    const parsed = zone(text);
    expect(parsed.id).toBe(id);
    expect(parsed.offsetMinutesAt(SEED_WINDOW_START)).toBeCloseTo(minutes, 9);
  });

  it('suggests the IANA name for a typo and for the wrong case (java.time ids are case-sensitive)', () => {
    expect(problem(timeZone('Asia/Shangai'))).toBe("unknown time zone 'Asia/Shangai' — did you mean 'Asia/Shanghai'?");
    expect(problem(timeZone('asia/shanghai'))).toBe(
      "unknown time zone 'asia/shanghai' (zone ids are case-sensitive) — did you mean 'Asia/Shanghai'?",
    );
    expect(problem(timeZone('utc'))).toContain("did you mean 'UTC'?");
    expect(problem(timeZone('Asia Shanghai'))).toBe("unknown time zone 'Asia Shanghai' — did you mean 'Asia/Shanghai'?");
  });

  it.each(['+19:00', '+18:00:01', '+8:60', '+123', 'UTC+25', 'GMT+', '+', '-08:00:60'])('rejects the offset %s', (text) => {
    expect(problem(timeZone(text))).toBe(
      text.startsWith('+') || text.startsWith('-')
        ? `invalid zone offset '${text}' (expected ±h, ±hh, ±hh:mm, ±hhmm, ±hh:mm:ss or ±hhmmss, at most 18:00)`
        : `invalid zone offset '${text}' (expected ${text.slice(0, 3)} followed by ±h, ±hh, ±hh:mm, ±hhmm, ±hh:mm:ss or ±hhmmss, at most 18:00)`,
    );
  });

  it.each(['', 'Nowhere/Atlantis', '08:00', 'Z '])('rejects %j with what it expected', (text) => {
    expect(problem(timeZone(text))).toBe(
      `unknown time zone '${text}' (expected a region id like 'Asia/Shanghai', an offset like '+08:00' or 'UTC+8', or 'Z')`,
    );
  });

  it('needs no Intl for fixed offsets, and caches region zones', () => {
    const spy = vi.spyOn(Intl, 'DateTimeFormat');
    try {
      expect(formatTimestamp(SEED_WINDOW_START, zone('+07:00'))).toBe('2020-07-29 09:43:30');
      expect(formatTimestamp(SEED_WINDOW_START, zone('UTC-3'))).toBe('2020-07-28 23:43:30');
      expect(zone('Asia/Shanghai')).toBe(SHANGHAI);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('systemTimeZone is the machine zone Intl reports', () => {
    const machine = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    const system = systemTimeZone();
    expect(system.offsetMinutesAt(SEED_WINDOW_START)).toBe(zone(machine).offsetMinutesAt(SEED_WINDOW_START));
  });

  it('offsets follow DST, historical LMT and transitions that are not on the hour', () => {
    expect(NEW_YORK.offsetMinutesAt(utc(2021, 1, 15))).toBe(-300);
    expect(NEW_YORK.offsetMinutesAt(utc(2021, 7, 15))).toBe(-240);
    // Shanghai left local mean time (+08:05:43) at 1901-01-01 00:00 LMT = 1900-12-31T15:54:17Z
    const lmtEnd = utc(1900, 12, 31, 15, 54, 17);
    expect(SHANGHAI.offsetMinutesAt(lmtEnd - 1)).toBeCloseTo(485 + 43 / 60, 9);
    expect(SHANGHAI.offsetMinutesAt(lmtEnd)).toBe(480);
    // Lord Howe moves by 30 minutes, at 15:30Z and 15:00Z
    expect(LORD_HOWE.offsetMinutesAt(utc(2021, 10, 2, 15, 29, 59, 999))).toBe(630);
    expect(LORD_HOWE.offsetMinutesAt(utc(2021, 10, 2, 15, 30))).toBe(660);
    expect(LORD_HOWE.offsetMinutesAt(utc(2021, 4, 3, 14, 59, 59, 999))).toBe(660);
    expect(LORD_HOWE.offsetMinutesAt(utc(2021, 4, 3, 15))).toBe(630);
  });

  it('offsets agree with a fresh Intl lookup at random instants (the hour cache is exact)', () => {
    const zones = ['America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Europe/London', 'America/Sao_Paulo', 'Asia/Shanghai'];
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: utc(1850, 1, 1), max: utc(2100, 1, 1) }), (id, ms) => {
        const at = Math.floor(ms / 1000) * 1000;
        const parts = new Intl.DateTimeFormat('en-US', {
          timeZone: id,
          hourCycle: 'h23',
          year: 'numeric',
          month: 'numeric',
          day: 'numeric',
          hour: 'numeric',
          minute: 'numeric',
          second: 'numeric',
        }).formatToParts(at);
        const field = (type: string): number => Number(parts.find((part) => part.type === type)?.value);
        const local = utc(field('year'), field('month'), field('day'), field('hour'), field('minute'), field('second'));
        expect(zone(id).offsetMinutesAt(ms)).toBeCloseTo((local - at) / 60_000, 9);
      }),
      { numRuns: 300 },
    );
  });

  it('folds the far future onto the 400-year cycle and clamps the far past to the earliest offset', () => {
    expect(NEW_YORK.offsetMinutesAt(utc(3000, 7, 1))).toBe(-240);
    expect(NEW_YORK.offsetMinutesAt(utc(3000, 1, 1))).toBe(-300);
    expect(NEW_YORK.offsetMinutesAt(utc(200_000, 7, 1))).toBe(-240);
    expect(NEW_YORK.offsetMinutesAt(-MAX_EPOCH_MS)).toBeCloseTo(-(4 * 60 + 56 + 2 / 60), 9); // LMT -4:56:02
  });

  it('toLocalFields breaks the seed window start down in Shanghai', () => {
    expect(SHANGHAI.toLocalFields(SEED_WINDOW_START)).toEqual({
      year: 2020, month: 7, day: 29, hour: 10, minute: 43, second: 30, micros: 0, dayOfWeek: 3,
    });
    expect(UTC.toLocalFields(SEED_RECORD)).toEqual({
      year: 2020, month: 7, day: 29, hour: 2, minute: 43, second: 41, micros: 936075, dayOfWeek: 3,
    });
    expect(UTC.toLocalFields(-0.001)).toEqual({
      year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59, micros: 999999, dayOfWeek: 3,
    });
  });

  it('New York spring forward: local times jump from 01:59:59 EST to 03:00 EDT', () => {
    const gapStart = utc(2021, 3, 14, 7); // 02:00 EST never happens
    expect(NEW_YORK.toLocalFields(gapStart - 1000)).toMatchObject({ day: 14, hour: 1, minute: 59, second: 59 });
    expect(NEW_YORK.toLocalFields(gapStart)).toMatchObject({ day: 14, hour: 3, minute: 0, second: 0 });
    // a local time in the gap moves forward by the gap, as java.time does
    const local = { year: 2021, month: 3, day: 14, minute: 30, second: 0, micros: 0 };
    expect(NEW_YORK.fromLocal({ ...local, hour: 2 })).toBe(utc(2021, 3, 14, 7, 30));
    expect(NEW_YORK.fromLocal({ ...local, hour: 3 })).toBe(utc(2021, 3, 14, 7, 30));
    expect(NEW_YORK.fromLocal({ ...local, hour: 1 })).toBe(utc(2021, 3, 14, 6, 30));
  });

  it('New York fall back: 01:00–01:59 happens twice and takes the earlier (EDT) offset', () => {
    const overlapEnd = utc(2021, 11, 7, 6); // 02:00 EDT becomes 01:00 EST
    expect(NEW_YORK.toLocalFields(overlapEnd - 1000)).toMatchObject({ hour: 1, minute: 59, second: 59 });
    expect(NEW_YORK.toLocalFields(overlapEnd)).toMatchObject({ hour: 1, minute: 0, second: 0 });
    const local = { year: 2021, month: 11, day: 7, hour: 1, minute: 30, second: 0, micros: 0 };
    expect(NEW_YORK.fromLocal(local)).toBe(utc(2021, 11, 7, 5, 30));
    expect(NEW_YORK.fromLocal({ ...local, hour: 2 })).toBe(utc(2021, 11, 7, 7, 30));
    expect(NEW_YORK.fromLocal({ ...local, hour: 0, minute: 59, second: 59, micros: 999_999 })).toBe(
      (utc(2021, 11, 7, 4, 59, 59, 999) * 1000 + 999) / 1000,
    );
  });

  it('fromLocal rejects fields no calendar has', () => {
    const base = { year: 2021, month: 2, day: 28, hour: 0, minute: 0, second: 0, micros: 0 };
    expect(UTC.fromLocal(base)).toBe(utc(2021, 2, 28));
    expect(UTC.fromLocal({ ...base, day: 29 })).toBeNull();
    expect(UTC.fromLocal({ ...base, year: 2020, day: 29 })).toBe(utc(2020, 2, 29));
    expect(UTC.fromLocal({ ...base, month: 13 })).toBeNull();
    expect(UTC.fromLocal({ ...base, hour: 24 })).toBeNull();
    expect(UTC.fromLocal({ ...base, micros: 1_000_000 })).toBeNull();
    expect(UTC.fromLocal({ ...base, second: 1.5 })).toBeNull();
    expect(UTC.fromLocal({ ...base, year: Number.NaN })).toBeNull();
    expect(UTC.fromLocal({ ...base, year: 400_000 })).toBeNull();
  });

  it('fromLocal inverts toLocalFields except for the later half of an overlap', () => {
    const zones = [SHANGHAI, NEW_YORK, LORD_HOWE, KOLKATA, UTC, zone('-09:30')];
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: -1e14, max: 1e14 }), (tz, ms) => {
        const fields = tz.toLocalFields(ms);
        if (fields === null) throw new Error('in range');
        const back = tz.fromLocal(fields);
        const laterInOverlap = back !== null && back < ms && tz.offsetMinutesAt(back) !== tz.offsetMinutesAt(ms);
        if (!laterInOverlap) expect(back).toBe(ms);
      }),
      { numRuns: 500 },
    );
  });

  it('answers null, never throws, for NaN, infinities and out-of-range instants', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, MAX_EPOCH_MS * 2, -1e300]) {
      expect(SHANGHAI.offsetMinutesAt(bad)).toBeNull();
      expect(SHANGHAI.toLocalFields(bad)).toBeNull();
      expect(UTC.toLocalFields(bad)).toBeNull();
    }
  });
});

describe('formatTimestamp (CAST(ts AS STRING))', () => {
  it('formats the seed window bounds in Shanghai and UTC', () => {
    expect(formatTimestamp(SEED_WINDOW_START, SHANGHAI)).toBe('2020-07-29 10:43:30');
    expect(formatTimestamp(SEED_WINDOW_START + 30_000, SHANGHAI)).toBe('2020-07-29 10:44:00');
    expect(formatTimestamp(SEED_WINDOW_START, UTC)).toBe('2020-07-29 02:43:30');
  });

  it('prints the fraction in microseconds without trailing zeros', () => {
    expect(formatTimestamp(SEED_RECORD, SHANGHAI)).toBe('2020-07-29 10:43:41.936075');
    expect(formatTimestamp(SEED_WINDOW_START + 500, SHANGHAI)).toBe('2020-07-29 10:43:30.5');
    expect(formatTimestamp(SEED_WINDOW_START + 0.123, SHANGHAI)).toBe('2020-07-29 10:43:30.000123');
    expect(formatTimestamp(1.5, UTC)).toBe('1970-01-01 00:00:00.0015');
    expect(formatTimestamp(0.001, UTC)).toBe('1970-01-01 00:00:00.000001');
    expect(formatTimestamp(120, UTC)).toBe('1970-01-01 00:00:00.12');
  });

  it('rounds to whole microseconds, carrying into the next millisecond', () => {
    expect(formatTimestamp(SEED_WINDOW_START + 0.0004, UTC)).toBe('2020-07-29 02:43:30');
    expect(formatTimestamp(SEED_WINDOW_START + 999.9996, UTC)).toBe('2020-07-29 02:43:31');
    expect(formatTimestamp(-0.0004, UTC)).toBe('1970-01-01 00:00:00');
  });

  it('formats negative epochs', () => {
    expect(formatTimestamp(-1, UTC)).toBe('1969-12-31 23:59:59.999');
    expect(formatTimestamp(-0.001, UTC)).toBe('1969-12-31 23:59:59.999999');
    expect(formatTimestamp(-86_400_000, SHANGHAI)).toBe('1969-12-31 08:00:00');
    expect(formatTimestamp(utc(1900, 1, 1), SHANGHAI)).toBe('1900-01-01 08:05:43');
  });

  it('prints years outside 0000–9999 as java.time ISO_LOCAL_DATE does', () => {
    expect(formatTimestamp(utc(0, 1, 1), UTC)).toBe('0000-01-01 00:00:00');
    expect(formatTimestamp(utc(0, 1, 1) - 1, UTC)).toBe('-0001-12-31 23:59:59.999');
    expect(formatTimestamp(utc(-12345, 6, 7, 8, 9, 10), UTC)).toBe('-12345-06-07 08:09:10');
    expect(formatTimestamp(utc(999, 1, 1), UTC)).toBe('0999-01-01 00:00:00');
    expect(formatTimestamp(utc(10000, 1, 1), UTC)).toBe('+10000-01-01 00:00:00');
    expect(formatTimestamp(utc(275760, 9, 13), UTC)).toBe('+275760-09-13 00:00:00');
    // Python's proleptic calendar over 400-year cycles agrees
    expect(formatTimestamp(MAX_EPOCH_MS, UTC)).toBe('+287168-08-24 16:00:00');
    expect(formatTimestamp(-MAX_EPOCH_MS, UTC)).toBe('-283229-05-10 08:00:00');
    // past Date's range only the 400-year fold keeps ICU answering
    expect(formatTimestamp(MAX_EPOCH_MS, SHANGHAI)).toBe('+287168-08-25 00:00:00');
    expect(formatTimestamp(MAX_EPOCH_MS, NEW_YORK)).toBe('+287168-08-24 12:00:00');
  });

  it('agrees with Date in UTC and with Intl in other zones', () => {
    const pieces = (ms: number, id: string): string => {
      const parts = new Intl.DateTimeFormat('en-US', {
        timeZone: id, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
      }).formatToParts(ms);
      const field = (type: string): string => parts.find((part) => part.type === type)?.value ?? '';
      return `${field('year').padStart(4, '0')}-${field('month')}-${field('day')} ${field('hour')}:${field('minute')}:${field('second')}`;
    };
    fc.assert(
      fc.property(fc.integer({ min: utc(1, 1, 1), max: utc(9999, 12, 31) }), (ms) => {
        const iso = new Date(ms).toISOString();
        const fraction = iso.slice(20, 23).replace(/0+$/, '');
        expect(formatTimestamp(ms, UTC)).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction === '' ? '' : `.${fraction}`}`);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom('Asia/Shanghai', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Europe/London'),
        fc.integer({ min: utc(1900, 1, 1), max: utc(2100, 1, 1) }),
        (id, seconds) => {
          const ms = Math.floor(seconds / 1000) * 1000;
          expect(formatTimestamp(ms, zone(id))).toBe(pieces(ms, id));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps zones apart when the same second is formatted in several (the text memo is per zone)', () => {
    for (let i = 0; i < 3; i++) {
      expect(formatTimestamp(SEED_WINDOW_START, SHANGHAI)).toBe('2020-07-29 10:43:30');
      expect(formatTimestamp(SEED_WINDOW_START, UTC)).toBe('2020-07-29 02:43:30');
      expect(formatTimestamp(SEED_WINDOW_START + 64_000, SHANGHAI)).toBe('2020-07-29 10:44:34');
      expect(formatTimestamp(SEED_WINDOW_START + 3_600_000, SHANGHAI)).toBe('2020-07-29 11:43:30');
    }
  });

  it('follows New York DST in both directions', () => {
    expect(formatTimestamp(utc(2021, 3, 14, 6, 59, 59), NEW_YORK)).toBe('2021-03-14 01:59:59');
    expect(formatTimestamp(utc(2021, 3, 14, 7), NEW_YORK)).toBe('2021-03-14 03:00:00');
    expect(formatTimestamp(utc(2021, 11, 7, 5, 59, 59), NEW_YORK)).toBe('2021-11-07 01:59:59');
    expect(formatTimestamp(utc(2021, 11, 7, 6), NEW_YORK)).toBe('2021-11-07 01:00:00');
  });

  it('answers null for NaN, infinities and out-of-range instants', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, MAX_EPOCH_MS + 2, -MAX_EPOCH_MS - 2]) {
      expect(formatTimestamp(bad, SHANGHAI)).toBeNull();
    }
  });
});

describe('epochSecondsToMs (CAST(numeric AS TIMESTAMP))', () => {
  it('turns the seed event time timestamp / 1000 into ms', () => {
    const ms = epochSecondsToMs(1595990621936 / 1000);
    expect(ms).toBe(1595990621936);
    expect(formatTimestamp(ms ?? Number.NaN, SHANGHAI)).toBe('2020-07-29 10:43:41.936');
  });

  it('truncates toward zero to whole microseconds, as Spark\'s (d * 1e6).toLong', () => {
    expect(epochSecondsToMs(0.0000015)).toBe(0.001);
    expect(epochSecondsToMs(-0.0000015)).toBe(-0.001);
    expect(epochSecondsToMs(-0.0000005)).toBe(0);
    expect(Object.is(epochSecondsToMs(-0.0000005), -0)).toBe(false);
    expect(epochSecondsToMs(1.0000005)).toBe(1000);
    expect(epochSecondsToMs(-1.5)).toBe(-1500);
  });

  it('multiplies whole seconds exactly (from_unixtime)', () => {
    expect(epochSecondsToMs(1595990610)).toBe(SEED_WINDOW_START);
    expect(epochSecondsToMs(8e12)).toBe(8e15);
    expect(epochSecondsToMs(-8e12)).toBe(-8e15);
  });

  it('answers null for NaN, infinities and beyond the range', () => {
    expect(epochSecondsToMs(Number.NaN)).toBeNull();
    expect(epochSecondsToMs(Number.POSITIVE_INFINITY)).toBeNull();
    expect(epochSecondsToMs(Number.NEGATIVE_INFINITY)).toBeNull();
    expect(epochSecondsToMs(1e13)).toBeNull();
    expect(epochSecondsToMs(-1e13 - 0.5)).toBeNull();
  });
});

// 2020-07-29 10:43:41.936075 in Shanghai, a Wednesday in Q3, day 211
const RECORD = SEED_RECORD;
// 2021-01-03 00:05:09 in Shanghai: a Sunday just after midnight
const MIDNIGHT = utc(2021, 1, 2, 16, 5, 9);
// 2021-12-31 13:00:00 in Shanghai: afternoon, Q4, day 365
const AFTERNOON = utc(2021, 12, 31, 5);

describe('compileFormatter', () => {
  it.each([
    [DEFAULT_PATTERN, RECORD, '2020-07-29 10:43:41'],
    ['y', RECORD, '2020'],
    ['yy', RECORD, '20'],
    ['yyy', RECORD, '2020'],
    ['yyyy', RECORD, '2020'],
    ['yyyyy', RECORD, '02020'],
    ['yyyyyy', RECORD, '002020'],
    ['M', RECORD, '7'],
    ['MM', RECORD, '07'],
    ['MMM', RECORD, 'Jul'],
    ['MMMM', RECORD, 'July'],
    ['L', MIDNIGHT, '1'],
    ['LL', MIDNIGHT, '01'],
    ['LLL', MIDNIGHT, 'Jan'],
    ['LLLL', MIDNIGHT, 'January'],
    ['d', MIDNIGHT, '3'],
    ['dd', MIDNIGHT, '03'],
    ['D', MIDNIGHT, '3'],
    ['DD', MIDNIGHT, '03'],
    ['DDD', MIDNIGHT, '003'],
    ['D', AFTERNOON, '365'],
    ['DD', RECORD, '211'],
    ['Q', RECORD, '3'],
    ['QQ', RECORD, '03'],
    ['QQQ', RECORD, 'Q3'],
    ['QQQQ', AFTERNOON, '4th quarter'],
    ['qqqq', MIDNIGHT, '1st quarter'],
    ['E', RECORD, 'Wed'],
    ['EE', RECORD, 'Wed'],
    ['EEE', MIDNIGHT, 'Sun'],
    ['EEEE', MIDNIGHT, 'Sunday'],
    ['a', RECORD, 'AM'],
    ['a', AFTERNOON, 'PM'],
    ['a', MIDNIGHT, 'AM'],
    ['h', MIDNIGHT, '12'],
    ['hh', AFTERNOON, '01'],
    ['K', MIDNIGHT, '0'],
    ['KK', AFTERNOON, '01'],
    ['k', MIDNIGHT, '24'],
    ['kk', AFTERNOON, '13'],
    ['H', MIDNIGHT, '0'],
    ['HH', AFTERNOON, '13'],
    ['m', MIDNIGHT, '5'],
    ['mm', MIDNIGHT, '05'],
    ['s', MIDNIGHT, '9'],
    ['ss', MIDNIGHT, '09'],
    ['S', RECORD, '9'],
    ['SS', RECORD, '93'],
    ['SSS', RECORD, '936'],
    ['SSSS', RECORD, '9360'],
    ['SSSSS', RECORD, '93607'],
    ['SSSSSS', RECORD, '936075'],
    ['SSSSSSSSS', RECORD, '936075000'],
    ['SSS', MIDNIGHT, '000'],
    ['VV', RECORD, 'Asia/Shanghai'],
    ['z', RECORD, 'CST'],
    ['zzz', RECORD, 'CST'],
    ['zzzz', RECORD, 'China Standard Time'],
    ['O', RECORD, 'GMT+8'],
    ['OOOO', RECORD, 'GMT+08:00'],
    ['X', RECORD, '+08'],
    ['XX', RECORD, '+0800'],
    ['XXX', RECORD, '+08:00'],
    ['XXXX', RECORD, '+0800'],
    ['XXXXX', RECORD, '+08:00'],
    ['x', RECORD, '+08'],
    ['xxx', RECORD, '+08:00'],
    ['Z', RECORD, '+0800'],
    ['ZZZ', RECORD, '+0800'],
    ['ZZZZ', RECORD, 'GMT+08:00'],
    ['ZZZZZ', RECORD, '+08:00'],
    ["yyyy-MM-dd'T'HH:mm:ss.SSSSSS", RECORD, '2020-07-29T10:43:41.936075'],
    ["'at' h a", AFTERNOON, 'at 1 PM'],
    ["''", RECORD, "'"],
    ["h 'o''clock'", AFTERNOON, "1 o'clock"],
    ["'Week' yyyy", RECORD, 'Week 2020'], // quoted letters are text, not week-based fields
    ['yyyy/MM/dd HH:mm', RECORD, '2020/07/29 10:43'],
    ['yyyy[-MM[-dd]]', RECORD, '2020-07-29'], // optional sections print: every field is there
    ['yyyyMMddHHmmss', RECORD, '20200729104341'],
  ])('%s formats %d in Shanghai as %s', (pattern, ms, expected) => {
    expect(formatter(pattern)(ms, SHANGHAI)).toBe(expected);
  });

  it.each([
    ['VV', 'America/New_York'],
    ['z', 'EDT'],
    ['zzzz', 'Eastern Daylight Time'],
    ['O', 'GMT-4'],
    ['OOOO', 'GMT-04:00'],
    ['X', '-04'],
    ['XXX', '-04:00'],
    ['x', '-04'],
    ['xx', '-0400'],
    ['Z', '-0400'],
    ['ZZZZZ', '-04:00'],
    ['yyyy-MM-dd HH:mm:ss a', '2020-07-28 22:43:41 PM'],
  ])('%s in New York (summer) is %s', (pattern, expected) => {
    expect(formatter(pattern)(RECORD, NEW_YORK)).toBe(expected);
  });

  it('names New York standard time in winter', () => {
    expect(formatter('z zzzz XXX')(MIDNIGHT, NEW_YORK)).toBe('EST Eastern Standard Time -05:00');
  });

  it.each([
    ['X', 'Z'],
    ['XXX', 'Z'],
    ['XXXXX', 'Z'],
    ['x', '+00'],
    ['xx', '+0000'],
    ['xxx', '+00:00'],
    ['xxxx', '+0000'],
    ['xxxxx', '+00:00'],
    ['Z', '+0000'],
    ['ZZZZ', 'GMT'],
    ['ZZZZZ', 'Z'],
    ['O', 'GMT'],
    ['OOOO', 'GMT'],
    ['VV', 'UTC'],
    ['z', 'UTC'],
    ['zzzz', 'Coordinated Universal Time'],
  ])('zero offset: %s in UTC is %s', (pattern, expected) => {
    expect(formatter(pattern)(RECORD, UTC)).toBe(expected);
  });

  it.each([
    ['X', '+0530'],
    ['XX', '+0530'],
    ['XXX', '+05:30'],
    ['O', 'GMT+5:30'],
    ['OOOO', 'GMT+05:30'],
    ['zzzz', 'India Standard Time'],
  ])('half-hour offset: %s in Kolkata is %s', (pattern, expected) => {
    expect(formatter(pattern)(RECORD, KOLKATA)).toBe(expected);
  });

  it.each([
    ['X', '+0805'],
    ['XXX', '+08:05'],
    ['XXXX', '+080543'],
    ['XXXXX', '+08:05:43'],
    ['ZZZZZ', '+08:05:43'],
    ['O', 'GMT+8:05:43'],
    ['OOOO', 'GMT+08:05:43'],
  ])('LMT seconds: %s in Shanghai in 1874 is %s', (pattern, expected) => {
    expect(formatter(pattern)(-3e12, SHANGHAI)).toBe(expected);
  });

  it('formats fixed-offset zones by their id', () => {
    expect(formatter('VV z XXX')(RECORD, zone('-0530'))).toBe('-05:30 -05:30 -05:30');
    expect(formatter('VV z O')(RECORD, zone('UTC+8'))).toBe('UTC+08:00 UTC+08:00 GMT+8');
  });

  it.each([
    ['yyyy', utc(10000, 1, 1), '+10000'],
    ['y', utc(10000, 1, 1), '10000'],
    ['yy', utc(10000, 1, 1), '00'],
    ['yyyy', utc(-1, 3, 1), '-0001'],
    ['y', utc(-1, 3, 1), '-1'],
    ['yy', utc(-1, 3, 1), '01'],
    ['yyy', utc(5, 3, 1), '005'],
    ['yyyy', utc(5, 3, 1), '0005'],
  ])('year %s of %d is %s', (pattern, ms, expected) => {
    expect(formatter(pattern)(ms, UTC)).toBe(expected);
  });

  it('answers null for NaN and infinities', () => {
    expect(formatter(DEFAULT_PATTERN)(Number.NaN, SHANGHAI)).toBeNull();
    expect(formatter('yyyy')(Number.POSITIVE_INFINITY, UTC)).toBeNull();
  });

  it.each([
    ['YYYY-MM-dd', "'Y' at index 0 is a week-based field, which Spark 3 rejects (use EXTRACT instead)"],
    ['yyyy-ww', "'w' at index 5 is a week-based field, which Spark 3 rejects (use EXTRACT instead)"],
    ['yyyy-MM-W', "'W' at index 8 is a week-based field, which Spark 3 rejects (use EXTRACT instead)"],
    ['u', "'u' at index 0 is a week-based field, which Spark 3 rejects (use EXTRACT instead)"],
    ['yyyy e', "'e' at index 5 is a week-based field, which Spark 3 rejects (use EXTRACT instead)"],
    ['c', "'c' at index 0 is a week-based field, which Spark 3 rejects (use EXTRACT instead)"],
    ['HH:mm A', "'A' at index 6 is an illegal pattern character in Spark 3"],
    ['n', "'n' at index 0 is an illegal pattern character in Spark 3"],
    ['N', "'N' at index 0 is an illegal pattern character in Spark 3"],
    ['ppH', "'p' at index 0 is an illegal pattern character in Spark 3"],
    ['G yyyy', "'G' at index 0 is the era, which otsflow does not support"],
    ['v', "'v' at index 0 is the generic zone name, which otsflow does not support (use 'z' or 'VV')"],
    ['F', "'F' at index 0 is the aligned week of month, which otsflow does not support"],
    ['yyyy-MM-dd b', "'b' at index 11 is not a pattern letter (quote literal text: 'b')"],
    ['MMMMM', "'M' at index 0 is repeated 5 times (at most 4)"],
    ['EEEEE', "'E' at index 0 is repeated 5 times (at most 4)"],
    ['QQQQQ', "'Q' at index 0 is repeated 5 times (at most 4)"],
    ['yyyyyyy', "'y' at index 0 is repeated 7 times (at most 6)"],
    ['ddd', "'d' at index 0 is repeated 3 times (at most 2)"],
    ['yyyy HHH', "'H' at index 5 is repeated 3 times (at most 2)"],
    ['DDDD', "'D' at index 0 is repeated 4 times (at most 3)"],
    ['aa', "'a' at index 0 is repeated 2 times (at most 1)"],
    ['ss.SSSSSSSSSS', "'S' at index 3 is repeated 10 times (at most 9)"],
    ['V', "'V' at index 0 must appear exactly twice (VV, the zone id)"],
    ['VVV', "'V' at index 0 must appear exactly twice (VV, the zone id)"],
    ['zzzzz', "'z' at index 0 is repeated 5 times (at most 4)"],
    ['OO', "'O' at index 0 must appear once (GMT+8) or four times (GMT+08:00)"],
    ['XXXXXX', "'X' at index 0 is repeated 6 times (at most 5)"],
    ['xxxxxx', "'x' at index 0 is repeated 6 times (at most 5)"],
    ['ZZZZZZ', "'Z' at index 0 is repeated 6 times (at most 5)"],
    ["yyyy 'at", "the quote at index 5 is never closed (write '' for a quote)"],
    ['yyyy]', "']' at index 4 closes no optional section"],
    ['yyyy#', "'#' at index 4 is reserved (quote it: '#')"],
    ['{yyyy}', "'{' at index 0 is reserved (quote it: '{')"],
  ])('rejects %s: %s', (pattern, message) => {
    expect(problem(compileFormatter(pattern))).toBe(`datetime pattern '${pattern}': ${message}`);
  });
});

describe('compileParser', () => {
  const parse = (pattern: string, text: string, tz: TimeZone = UTC): number | null => parser(pattern)(text, tz);
  const at = (pattern: string, text: string): string | null => {
    const ms = parse(pattern, text);
    return ms === null ? null : formatTimestamp(ms, UTC);
  };

  it('parses the default pattern in the session zone', () => {
    expect(parse(DEFAULT_PATTERN, '2020-07-29 10:43:30', SHANGHAI)).toBe(SEED_WINDOW_START);
    expect(parse(DEFAULT_PATTERN, '2020-07-29 02:43:30', UTC)).toBe(SEED_WINDOW_START);
    expect(parse(DEFAULT_PATTERN, '2020-07-29 10:43:3', SHANGHAI)).toBeNull();
  });

  it.each([
    ['y', '2020', '2020-01-01 00:00:00'],
    ['y', '-44', '-0044-01-01 00:00:00'],
    ['yy', '20', '2020-01-01 00:00:00'],
    ['yy', '99', '2099-01-01 00:00:00'],
    ['yyyy', '2020', '2020-01-01 00:00:00'],
    ['yyyy', '-0001', '-0001-01-01 00:00:00'],
    ['yyyy', '+10000', '+10000-01-01 00:00:00'],
    ['yyyyy', '02020', '2020-01-01 00:00:00'],
    ['yyyy-M', '2020-7', '2020-07-01 00:00:00'],
    ['yyyy-M', '2020-07', '2020-07-01 00:00:00'],
    ['yyyy-MM', '2020-07', '2020-07-01 00:00:00'],
    ['yyyy MMM', '2020 Jul', '2020-07-01 00:00:00'],
    ['yyyy MMM', '2020 jUL', '2020-07-01 00:00:00'], // case-insensitive, as Spark's formatter
    ['yyyy MMMM', '2020 September', '2020-09-01 00:00:00'],
    ['yyyy LLL', '2020 Sep', '2020-09-01 00:00:00'],
    ['yyyy-MM-d', '2020-07-9', '2020-07-09 00:00:00'],
    ['yyyy-MM-dd', '2020-07-29', '2020-07-29 00:00:00'],
    ['yyyy D', '2020 211', '2020-07-29 00:00:00'],
    ['yyyy DDD', '2020 060', '2020-02-29 00:00:00'],
    ['yyyy-MM-dd D', '2020-07-29 211', '2020-07-29 00:00:00'],
    ['D', '32', '1970-02-01 00:00:00'],
    ['HH', '13', '1970-01-01 13:00:00'],
    ['H:m:s', '1:2:3', '1970-01-01 01:02:03'],
    ['hh a', '12 AM', '1970-01-01 00:00:00'],
    ['hh a', '12 PM', '1970-01-01 12:00:00'],
    ['h a', '1 pm', '1970-01-01 13:00:00'],
    ['hh', '03', '1970-01-01 03:00:00'], // no a: Spark assumes the morning
    ['K a', '0 PM', '1970-01-01 12:00:00'],
    ['KK', '11', '1970-01-01 11:00:00'],
    ['kk', '24', '1970-01-01 00:00:00'],
    ['kk', '13', '1970-01-01 13:00:00'],
    ['HH a', '13 PM', '1970-01-01 13:00:00'],
    ['a', 'PM', '1970-01-01 12:00:00'],
    ['mm', '59', '1970-01-01 00:59:00'],
    ['ss', '07', '1970-01-01 00:00:07'],
    ['ss.S', '07.9', '1970-01-01 00:00:07.9'],
    ['ss.SSS', '07.9', '1970-01-01 00:00:07.9'], // Spark accepts 1 to n fraction digits
    ['ss.SSS', '07.936', '1970-01-01 00:00:07.936'],
    ['ss.SSSSSS', '07.936075', '1970-01-01 00:00:07.936075'],
    ['ss.SSSSSSSSS', '07.936075999', '1970-01-01 00:00:07.936075'], // nanoseconds truncated
    ['MM-dd', '07-29', '1970-07-29 00:00:00'],
    ["yyyy-MM-dd'T'HH:mm:ss", '2020-07-29t10:43:30', '2020-07-29 10:43:30'],
    ["yyyy-MM-dd 'at' HH", '2020-07-29 AT 10', '2020-07-29 10:00:00'],
    ["h 'o''clock'", "3 o'clock", '1970-01-01 03:00:00'],
    ['yyyyMMdd', '20200729', '2020-07-29 00:00:00'], // adjacent value parsing
    ['yyyyMMddHHmmss', '20200729104330', '2020-07-29 10:43:30'],
    ['yyMMdd', '200729', '2020-07-29 00:00:00'],
    ['yyyy-MM-dd[ HH:mm:ss]', '2020-07-29', '2020-07-29 00:00:00'],
    ['yyyy-MM-dd[ HH:mm:ss]', '2020-07-29 10:43:30', '2020-07-29 10:43:30'],
    ['yyyy-MM-dd[ HH:mm[:ss]]', '2020-07-29 10:43', '2020-07-29 10:43:00'],
    ["[HH'h']mm", '12h30', '1970-01-01 12:30:00'],
    ["[HH'h']mm", '30', '1970-01-01 00:30:00'], // the failed section's HH=30 is forgotten
  ])('%s reads %s as %s', (pattern, text, expected) => {
    expect(at(pattern, text)).toBe(expected);
  });

  it.each([
    ['yyyy', '20'], // 4 digits at least
    ['yyyy', '10000'], // past the pad width java.time wants the sign
    ['yyyy', '+2020'], // and not before
    ['yy', '2020'],
    ['y', '+2020'],
    ['MM', '7'],
    ['MM', '13'],
    ['M', '0'],
    ['MMM', 'July'],
    ['MMMM', 'Jul'],
    ['yyyy-MM-dd', '2020-02-30'],
    ['yyyy-MM-dd', '2021-02-29'],
    ['yyyy D', '2021 366'],
    ['yyyy-MM-dd D', '2020-07-29 212'], // day of year disagrees with the date
    ['HH', '24'],
    ['HH a', '13 AM'],
    ['hh a', '13 PM'],
    ['hh', '00'],
    ['KK', '12'],
    ['kk', '00'],
    ['mm', '60'],
    ['ss', '60'],
    ['ss.SSS', '07.9361'],
    ['ss.SSS', '07.'],
    ['HH:mm', '10:4'],
    ['yyyy-MM-dd', ' 2020-07-29'], // no trimming with a pattern
    ['yyyy-MM-dd', '2020-07-29 '],
    ['yyyy-MM-dd', '2020/07/29'],
    ['yyyy-MM-dd', ''],
    ['yyyy-MM-dd', 'garbage'],
    ['yyyy yyyy', '2020 2021'], // the same field twice must agree
    ['yyyyMMddHHmmssSSS', '20200729104330123'], // java.time reserves no width for a 1–n digit fraction
  ])('%s does not read %j', (pattern, text) => {
    expect(parse(pattern, text)).toBeNull();
  });

  it('resolves DST gaps and overlaps as java.time', () => {
    expect(parse(DEFAULT_PATTERN, '2021-03-14 02:30:00', NEW_YORK)).toBe(utc(2021, 3, 14, 7, 30));
    expect(parse(DEFAULT_PATTERN, '2021-11-07 01:30:00', NEW_YORK)).toBe(utc(2021, 11, 7, 5, 30));
  });

  it.each([
    ['XXX', '+08:00'],
    ['XXX', 'Z'],
    ['XXX', 'z'],
    ['X', '+08'],
    ['X', '+0800'],
    ['XX', '+0800'],
    ['XXXXX', '+08:00:00'],
    ['x', '+08'],
    ['xx', '+0800'],
    ['Z', '+0800'],
    ['ZZZZ', 'GMT+08:00'],
    ['O', 'GMT+8'],
    ['OOOO', 'GMT+08:00'],
    ['VV', 'Asia/Shanghai'],
    ['VV', 'asia/shanghai'],
    ['VV', 'Etc/GMT-8'],
    ['VV', '+08:00'],
    ['VV', 'UTC+08:00'],
    ['VV', 'GMT+08:00'],
    ['z', 'Asia/Shanghai'],
    ['z', 'CTT'],
  ])('an offset or zone %s in the text (%s) overrides the session zone', (letters, text) => {
    const expected = text === 'Z' || text === 'z' ? SEED_WINDOW_START + 8 * 3_600_000 : SEED_WINDOW_START;
    expect(parse(`yyyy-MM-dd HH:mm:ss ${letters}`, `2020-07-29 10:43:30 ${text}`, NEW_YORK)).toBe(expected);
  });

  it('reads zero offsets and zone-only ids', () => {
    expect(parse('HH:mm xxx', '00:00 +00:00', SHANGHAI)).toBe(0);
    expect(parse('HH:mm ZZZZZ', '00:00 Z', SHANGHAI)).toBe(0);
    expect(parse('HH:mm ZZZZ', '00:00 GMT', SHANGHAI)).toBe(0);
    expect(parse('HH:mm VV', '00:00 UTC', SHANGHAI)).toBe(0);
    expect(parse('HH:mm VV', '00:00 Z', SHANGHAI)).toBe(0);
    expect(parse('HH:mm VV', '00:00 America/New_York', SHANGHAI)).toBe(5 * 3_600_000);
  });

  it.each([
    ['XXX', '+8:00'],
    ['XXX', '+0800'],
    ['XX', '+08:00'],
    ['XXX', '+19:00'],
    ['VV', 'Nowhere/Atlantis'],
    ['VV', 'CST6'],
    ['VV', 'UTC+8'], // after UTC java.time wants +HH:MM
    ['OOOO', 'GMT+8'],
    ['X', '08'],
  ])('%s does not read the offset %j', (letters, text) => {
    expect(parse(`HH:mm ${letters}`, `10:43 ${text}`, UTC)).toBeNull();
  });

  it('answers one offset parsed twice only when both agree', () => {
    expect(parse('HH:mm XXX x', '10:43 +08:00 +08', UTC)).toBe(utc(1970, 1, 1, 2, 43));
    expect(parse('HH:mm XXX x', '10:43 +08:00 +09', UTC)).toBeNull();
  });

  it.each([
    ['yyyy-MM-dd E', "'E' at index 11 can only format: Spark 3 rejects it in parsing patterns"],
    ['EEEE', "'E' at index 0 can only format: Spark 3 rejects it in parsing patterns"],
    ['F', "'F' at index 0 can only format: Spark 3 rejects it in parsing patterns"],
    ['yyyy Q', "'Q' at index 5 can only format: Spark 3 rejects it in parsing patterns"],
    ['q', "'q' at index 0 can only format: Spark 3 rejects it in parsing patterns"],
    ['YYYY', "'Y' at index 0 is a week-based field, which Spark 3 rejects (use EXTRACT instead)"],
    ['yyyy-MM-dd HH:mm:ss.SSSSSSSSSS', "'S' at index 20 is repeated 10 times (at most 9)"],
  ])('rejects %s for parsing: %s', (pattern, message) => {
    expect(problem(compileParser(pattern))).toBe(`datetime pattern '${pattern}': ${message}`);
  });

  it('never throws on arbitrary text', () => {
    const patterns = [DEFAULT_PATTERN, 'yyyyMMddHHmmss', 'yyyy-MM-dd[ HH:mm:ss.SSS] XXX', 'h:mm a VV', 'D yy ZZZZ O', 'z', 'MMMM d, yyyy'];
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.stringMatching(/^[0-9 :.+\-TZGMUaApPmM/A-Za-z]{0,30}$/),
    );
    fc.assert(
      fc.property(fc.constantFrom(...patterns), text, (pattern, input) => {
        const result = parse(pattern, input, SHANGHAI);
        expect(result === null || Number.isFinite(result)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseTimestampString (CAST(string AS TIMESTAMP))', () => {
  const cast = (text: string, tz: TimeZone = SHANGHAI): string | null => {
    const ms = parseTimestampString(text, tz);
    return ms === null ? null : formatTimestamp(ms, UTC);
  };

  it('reads the seed window start in Shanghai', () => {
    expect(parseTimestampString('2020-07-29 10:43:30', SHANGHAI)).toBe(SEED_WINDOW_START);
    expect(parseTimestampString('2020-07-29 02:43:30', UTC)).toBe(SEED_WINDOW_START);
    expect(parseTimestampString('2020-07-29 10:43:41.936075', SHANGHAI)).toBe(SEED_RECORD);
  });

  it.each([
    ['2020', '2019-12-31 16:00:00'],
    ['2020-7', '2020-06-30 16:00:00'],
    ['2020-07-29', '2020-07-28 16:00:00'],
    ['2020-7-9', '2020-07-08 16:00:00'],
    ['2020-07-29 ', '2020-07-28 16:00:00'],
    ['2020-07-29 10', '2020-07-29 02:00:00'],
    ['2020-07-29 10:43', '2020-07-29 02:43:00'],
    ['2020-07-29 1:2:3', '2020-07-28 17:02:03'],
    ['2020-07-29T10:43:30', '2020-07-29 02:43:30'],
    ['2020-07-29 10:43:30.5', '2020-07-29 02:43:30.5'],
    ['2020-07-29 10:43:30.', '2020-07-29 02:43:30'],
    ['2020-07-29 10:43:30.1234567', '2020-07-29 02:43:30.123456'], // truncated past micros
    ['  2020-07-29 10:43:30\t\n', '2020-07-29 02:43:30'],
    ['2020-07-29 10:43:30Z', '2020-07-29 10:43:30'],
    ['2020-07-29T10:43:30.123Z', '2020-07-29 10:43:30.123'],
    ['2020-07-29 10:43:30+08:00', '2020-07-29 02:43:30'],
    ['2020-07-29 10:43:30-05:30', '2020-07-29 16:13:30'],
    ['2020-07-29 10:43:30 +8:00', '2020-07-29 02:43:30'],
    ['2020-07-29 10:43:30 UTC', '2020-07-29 10:43:30'],
    ['2020-07-29 10:43:30UTC+1', '2020-07-29 09:43:30'],
    ['2020-07-29 10:43:30 America/New_York', '2020-07-29 14:43:30'],
    ['2020-07-29 10:43:30.25Europe/London', '2020-07-29 09:43:30.25'],
    ['+10000-01-01', '9999-12-31 16:00:00'],
    ['-0001-01-01 08:05:43', '-0001-01-01 00:00:00'], // Shanghai was on LMT, +08:05:43
    ['123456-01-01', '+123455-12-31 16:00:00'],
  ])('reads %j', (text, expected) => {
    expect(cast(text)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    '20',
    '202',
    '1234567-01-01',
    '2020-',
    '2020-07-',
    '2020-007-01',
    '2020-07-29T',
    '2020-07-29 10:',
    '2020/07/29',
    '2020-07-29X10:43:30',
    '2020-02-30',
    '2021-02-29 00:00:00',
    '2020-13-01',
    '2020-07-29 24:00:00',
    '2020-07-29 10:60:00',
    '2020-07-29 10:43:60',
    '2020-07-29 10:43Z', // a zone needs the seconds
    '2020-07-29 10:43:30 Nowhere/Atlantis',
    '2020-07-29 10:43:30+19:00',
    '2020-07-29 10:43:30 asia/shanghai',
    'garbage',
    '10:43:30', // time only: needs "now"
    'T10:43:30',
  ])('answers null for %j', (text) => {
    expect(parseTimestampString(text, SHANGHAI)).toBeNull();
  });

  it("dates time-only strings today in the zone when given now, as Spark's LocalDate.now", () => {
    const now = utc(2020, 7, 29, 20); // already the 30th in Shanghai
    expect(parseTimestampString('10:43:30', SHANGHAI, now)).toBe(utc(2020, 7, 30, 2, 43, 30));
    expect(parseTimestampString('T10:43', SHANGHAI, now)).toBe(utc(2020, 7, 30, 2, 43));
    expect(parseTimestampString('10:43:30Z', SHANGHAI, now)).toBe(utc(2020, 7, 29, 10, 43, 30));
    expect(parseTimestampString('10:43:30', SHANGHAI, Number.NaN)).toBeNull();
  });

  it('resolves New York DST gaps and overlaps', () => {
    expect(parseTimestampString('2021-03-14 02:30:00', NEW_YORK)).toBe(utc(2021, 3, 14, 7, 30));
    expect(parseTimestampString('2021-11-07 01:30:00', NEW_YORK)).toBe(utc(2021, 11, 7, 5, 30));
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^[0-9 :.+\-TZ/A-Za-z]{0,30}$/)), (text) => {
        const result = parseTimestampString(text, SHANGHAI, 0);
        expect(result === null || Number.isFinite(result)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('round trips', () => {
  const zones = [
    'UTC', 'Asia/Shanghai', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Sao_Paulo',
    '+05:45', '-09:30', 'UTC+8',
  ].map(zone);
  const anyZone = fc.constantFrom(...zones);
  const wideMs = fc.integer({ min: -3e14, max: 3e15 }); // years -7537 to 97000
  /** An instant with whole microseconds, built the way the module builds them. */
  const microsInstant = fc
    .tuple(fc.integer({ min: -4e12, max: 4e12 }), fc.integer({ min: 0, max: 999 }))
    .map(([whole, sub]) => (whole * 1000 + sub) / 1000);

  it('with an offset in the pattern, parse(format(x)) is x at milliseconds over a wide range', () => {
    const pattern = 'yyyy-MM-dd HH:mm:ss.SSS XXXXX';
    fc.assert(
      fc.property(anyZone, wideMs, (tz, ms) => {
        const text = formatter(pattern)(ms, tz);
        expect(text).not.toBeNull();
        expect(parser(pattern)(text ?? '', UTC)).toBe(ms);
      }),
      { numRuns: 1000 },
    );
  });

  it('with an offset in the pattern, parse(format(x)) is x at microseconds', () => {
    const pattern = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxxxx";
    fc.assert(
      fc.property(anyZone, microsInstant, (tz, ms) => {
        expect(parser(pattern)(formatter(pattern)(ms, tz) ?? '', SHANGHAI)).toBe(ms);
      }),
      { numRuns: 1000 },
    );
  });

  it('at the precision of other patterns (seconds, or the day), truncating x', () => {
    const patterns: Array<[string, number]> = [
      [DEFAULT_PATTERN, 1000],
      ['yyyyMMddHHmmss', 1000],
      ['D yyyy HH:mm:ss', 1000],
      ['MMMM d yyyy h:mm:ss a', 1000],
      ['MMM dd yyyy kk:mm:ss', 1000],
      ['yyyy-MM-dd KK:mm:ss.SS a', 10],
      ['yyyy-MM-dd', 86_400_000],
    ];
    const fixedZones = [UTC, zone('+05:45'), zone('-09:30'), zone('UTC+8')];
    fc.assert(
      fc.property(fc.constantFrom(...patterns), fc.constantFrom(...fixedZones), fc.integer({ min: -6e13, max: 2.5e14 }), ([pattern, unit], tz, ms) => {
        const text = formatter(pattern)(ms, tz) ?? '';
        const offset = (tz.offsetMinutesAt(ms) ?? 0) * 60_000;
        const expected = Math.floor((ms + offset) / unit) * unit - offset;
        expect(parser(pattern)(text, tz)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('in zones with DST, format(parse(s)) is s for every formatted s (overlaps read back the earlier instant)', () => {
    fc.assert(
      fc.property(anyZone, fc.integer({ min: utc(1800, 1, 1), max: utc(2200, 1, 1) }), (tz, ms) => {
        const text = formatter(DEFAULT_PATTERN)(ms, tz) ?? '';
        const back = parser(DEFAULT_PATTERN)(text, tz);
        expect(back).not.toBeNull();
        expect(formatter(DEFAULT_PATTERN)(back ?? Number.NaN, tz)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });

  it('CAST(CAST(ts AS STRING) AS TIMESTAMP) is ts in fixed zones, and the same text in any zone', () => {
    fc.assert(
      fc.property(fc.constantFrom(UTC, zone('+05:45'), zone('UTC-8')), microsInstant, (tz, ms) => {
        expect(parseTimestampString(formatTimestamp(ms, tz) ?? '', tz)).toBe(ms);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(anyZone, wideMs, (tz, ms) => {
        const text = formatTimestamp(ms, tz) ?? '';
        expect(formatTimestamp(parseTimestampString(text, tz) ?? Number.NaN, tz)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});
