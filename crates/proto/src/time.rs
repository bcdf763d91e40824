//! Dates and times for people to read, shared by the platform, the app and the sandbox, on the
//! `time` crate: Hong Kong local time (UTC+8, no daylight saving since 1979) as people there
//! write it. No IO, no clock: callers pass the time (Unix milliseconds).
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Hong Kong's offset from UTC, in milliseconds.
pub const HK_OFFSET_MS: i64 = 8 * 3_600_000;

/// The time of Unix milliseconds at `hours` east of UTC (clamped to the years the `time` crate
/// knows).
fn in_zone(ms: i64, hours: i8) -> OffsetDateTime {
    let zone = UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC);
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(if ms < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        })
        .checked_to_offset(zone)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The time in Hong Kong of Unix milliseconds.
fn hk(ms: i64) -> OffsetDateTime {
    in_zone(ms, 8)
}

/// Unix milliseconds of a date and time at `offset_ms` from UTC, or `None` when there is no
/// such day or time (30 February, 24:00).
pub fn to_unix_ms(
    (year, month, day): (i32, u8, u8),
    (hour, minute, second): (u8, u8, u8),
    offset_ms: i64,
) -> Option<i64> {
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let at = PrimitiveDateTime::new(date, Time::from_hms(hour, minute, second).ok()?);
    let secs = at.assume_utc().unix_timestamp();
    Some(secs * 1000 - offset_ms)
}

/// `YYYY-MM-DD` of a time in Unix milliseconds, in UTC (add [`HK_OFFSET_MS`] first for the
/// date in Hong Kong).
pub fn date(ms: i64) -> String {
    let d = in_zone(ms, 0);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `YYYY-MM-DD HH:MM` in Hong Kong of a time in Unix milliseconds.
pub fn hk_date_time(ms: i64) -> String {
    let d = hk(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute()
    )
}

/// The time of day in Hong Kong as people there write it: `3:04 pm`, `下午3時04分`.
pub fn hk_clock(ms: i64, locale: crate::i18n::Locale) -> String {
    let d = hk(ms);
    let (h, m) = (d.hour(), d.minute());
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    match locale {
        crate::i18n::Locale::En => format!("{h12}:{m:02} {}", if h < 12 { "am" } else { "pm" }),
        _ => format!("{}{h12}時{m:02}分", if h < 12 { "上午" } else { "下午" }),
    }
}

/// A day of the year as people in Hong Kong write it: `19 March`, `3月19日` (month 1-12).
pub fn day_month(m: i64, d: i64, locale: crate::i18n::Locale) -> String {
    match locale {
        crate::i18n::Locale::En => {
            let name = u8::try_from(m)
                .ok()
                .and_then(|m| Month::try_from(m).ok())
                .map_or_else(|| "?".to_string(), |m| m.to_string());
            format!("{d} {name}")
        }
        _ => format!("{m}月{d}日"),
    }
}

/// The date in Hong Kong of a time in Unix milliseconds as people there write it:
/// `6 December 2026`, `2026年12月6日`.
pub fn hk_day(ms: i64, locale: crate::i18n::Locale) -> String {
    let d = hk(ms);
    let (y, m, day) = (d.year(), i64::from(u8::from(d.month())), i64::from(d.day()));
    match locale {
        crate::i18n::Locale::En => format!("{} {y}", day_month(m, day, locale)),
        _ => format!("{y}年{}", day_month(m, day, locale)),
    }
}

/// Date and time in Hong Kong as people there write them: `6 December 2026, 3:05 pm`,
/// `2026年12月6日 下午3時05分`.
pub fn hk_when(ms: i64, locale: crate::i18n::Locale) -> String {
    match locale {
        crate::i18n::Locale::En => format!("{}, {}", hk_day(ms, locale), hk_clock(ms, locale)),
        _ => format!("{} {}", hk_day(ms, locale), hk_clock(ms, locale)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_hong_kong_writes_them() {
        use crate::i18n::Locale;
        let t = utc(2026, 12, 6, 7, 5);
        assert_eq!(hk_when(t, Locale::En), "6 December 2026, 3:05 pm");
        assert_eq!(hk_when(t, Locale::ZhHant), "2026年12月6日 下午3時05分");
        assert_eq!(hk_day(t, Locale::ZhHans), "2026年12月6日");
        // 20:00 UTC is the next day in Hong Kong.
        let t = utc(2026, 12, 31, 20, 0);
        assert_eq!(hk_day(t, Locale::En), "1 January 2027");
        assert_eq!(day_month(3, 19, Locale::En), "19 March");
        assert_eq!(day_month(3, 19, Locale::ZhHant), "3月19日");
        assert_eq!(day_month(13, 1, Locale::En), "1 ?");
    }

    #[test]
    fn clock_times_as_hong_kong_writes_them() {
        use crate::i18n::Locale;
        // 2026-12-06 07:04 UTC is 15:04 in Hong Kong; 16:30 UTC is 00:30 the next day.
        let t = utc(2026, 12, 6, 7, 4);
        assert_eq!(hk_clock(t, Locale::En), "3:04 pm");
        assert_eq!(hk_clock(t, Locale::ZhHant), "下午3時04分");
        let t = utc(2026, 12, 6, 16, 30);
        assert_eq!(hk_clock(t, Locale::En), "12:30 am");
        assert_eq!(hk_clock(t, Locale::ZhHant), "上午12時30分");
    }

    /// Unix ms of a time in UTC.
    fn utc(y: i32, m: u8, d: u8, h: u8, mi: u8) -> i64 {
        to_unix_ms((y, m, d), (h, mi, 0), 0).unwrap()
    }

    #[test]
    fn dates_and_known_days() {
        assert_eq!(utc(1970, 1, 1, 0, 0), 0);
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(to_unix_ms((2001, 2, 29), (0, 0, 0), 0), None);
        assert_eq!(to_unix_ms((2001, 2, 28), (24, 0, 0), 0), None);
        assert_eq!(to_unix_ms((2001, 13, 1), (0, 0, 0), 0), None);
        // 08:00 in Hong Kong is midnight UTC.
        assert_eq!(
            to_unix_ms((2026, 12, 6), (8, 0, 0), HK_OFFSET_MS),
            Some(utc(2026, 12, 6, 0, 0))
        );
        // Far outside any real time: no panic.
        let _ = hk_when(i64::MAX, crate::i18n::Locale::En);
        let _ = hk_when(i64::MIN, crate::i18n::Locale::En);
        // 2026-11-23T16:30:00Z is 00:30 the next day in Hong Kong.
        assert_eq!(hk_date_time(1_795_451_400_000), "2026-11-24 00:30");
    }
}
