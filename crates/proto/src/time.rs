//! Calendar arithmetic shared by the platform, the app and the sandbox: civil dates from day
//! counts and back (Howard Hinnant's algorithms), and Hong Kong local time (UTC+8, no daylight
//! saving since 1979) for people to read. No IO, no clock: callers pass the time.

/// Hong Kong's offset from UTC, in milliseconds.
pub const HK_OFFSET_MS: i64 = 8 * 3_600_000;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date (year, month 1-12, day 1-31).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` of a time in Unix milliseconds, in UTC (add [`HK_OFFSET_MS`] first for the
/// date in Hong Kong).
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM` in Hong Kong of a time in Unix milliseconds.
pub fn hk_date_time(ms: i64) -> String {
    let local = ms + HK_OFFSET_MS;
    let mins = local.rem_euclid(DAY_MS) / 60_000;
    format!("{} {:02}:{:02}", date(local), mins / 60, mins % 60)
}

/// The time of day in Hong Kong as people there write it: `3:04 pm`, `下午3時04分`.
pub fn hk_clock(ms: i64, locale: crate::i18n::Locale) -> String {
    let local = ms + HK_OFFSET_MS;
    let mins = local.rem_euclid(DAY_MS) / 60_000;
    let (h, m) = (mins / 60, mins % 60);
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    match locale {
        crate::i18n::Locale::En => format!("{h12}:{m:02} {}", if h < 12 { "am" } else { "pm" }),
        _ => format!("{}{h12}時{m:02}分", if h < 12 { "上午" } else { "下午" }),
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A day of the year as people in Hong Kong write it: `19 March`, `3月19日` (month 1-12).
pub fn day_month(m: i64, d: i64, locale: crate::i18n::Locale) -> String {
    match locale {
        crate::i18n::Locale::En => {
            let name = usize::try_from(m - 1)
                .ok()
                .and_then(|i| MONTHS.get(i))
                .copied()
                .unwrap_or("?");
            format!("{d} {name}")
        }
        _ => format!("{m}月{d}日"),
    }
}

/// The date in Hong Kong of a time in Unix milliseconds as people there write it:
/// `6 December 2026`, `2026年12月6日`.
pub fn hk_day(ms: i64, locale: crate::i18n::Locale) -> String {
    let (y, m, d) = civil_from_days((ms + HK_OFFSET_MS).div_euclid(DAY_MS));
    match locale {
        crate::i18n::Locale::En => format!("{} {y}", day_month(m, d, locale)),
        _ => format!("{y}年{}", day_month(m, d, locale)),
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
        let t = days_from_civil(2026, 12, 6) * DAY_MS + (7 * 60 + 5) * 60_000;
        assert_eq!(hk_when(t, Locale::En), "6 December 2026, 3:05 pm");
        assert_eq!(hk_when(t, Locale::ZhHant), "2026年12月6日 下午3時05分");
        assert_eq!(hk_day(t, Locale::ZhHans), "2026年12月6日");
        // 20:00 UTC is the next day in Hong Kong.
        let t = days_from_civil(2026, 12, 31) * DAY_MS + 20 * 3_600_000;
        assert_eq!(hk_day(t, Locale::En), "1 January 2027");
        assert_eq!(day_month(3, 19, Locale::En), "19 March");
        assert_eq!(day_month(3, 19, Locale::ZhHant), "3月19日");
        assert_eq!(day_month(13, 1, Locale::En), "1 ?");
    }

    #[test]
    fn clock_times_as_hong_kong_writes_them() {
        use crate::i18n::Locale;
        // 2026-12-06 07:04 UTC is 15:04 in Hong Kong; 16:30 UTC is 00:30 the next day.
        let t = days_from_civil(2026, 12, 6) * DAY_MS + (7 * 60 + 4) * 60_000;
        assert_eq!(hk_clock(t, Locale::En), "3:04 pm");
        assert_eq!(hk_clock(t, Locale::ZhHant), "下午3時04分");
        let t = days_from_civil(2026, 12, 6) * DAY_MS + (16 * 60 + 30) * 60_000;
        assert_eq!(hk_clock(t, Locale::En), "12:30 am");
        assert_eq!(hk_clock(t, Locale::ZhHant), "上午12時30分");
    }

    #[test]
    fn dates_round_trip_and_known_days() {
        for days in [
            -800_000, -1, 0, 1, 59, 60, 11_016, 19_782, 20_000, 2_932_896,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(date(951_782_400_000), "2000-02-29");
        // 2026-11-23T16:30:00Z is 00:30 the next day in Hong Kong.
        assert_eq!(hk_date_time(1_795_451_400_000), "2026-11-24 00:30");
    }
}
