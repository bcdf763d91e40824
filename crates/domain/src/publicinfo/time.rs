//! The date formats of the feeds, to Unix milliseconds, and back to Hong Kong time for people.
//!
//! ISO 8601 with an offset (HKO: `2021-09-14T12:45:00+08:00`), RFC 2822 (RSS `pubDate`:
//! `Thu, 25 Jun 2026 16:00:00 GMT`, `Tue, 04 Nov 2025 00:00:00 +0800`) and the Transport
//! Department's local time with a Chinese AM/PM marker (` 2017/9/16 上午 07:20:43`).
//! The fields are read by hand (each format is small, fixed and lenient in its own way, which a
//! general parser would refuse); the calendar is the `time` crate's, through `proto::time`.

pub use iamsmart_proto::time::HK_OFFSET_MS;

/// Milliseconds of a local date and time at `offset_ms` from UTC, after range checks (a leap
/// second is read as the second before it).
fn local_to_ms(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, offset_ms: i64) -> Option<i64> {
    if !(1900..=9999).contains(&y) || !(0..=60).contains(&s) {
        return None;
    }
    let small = |v: i64| u8::try_from(v).ok();
    iamsmart_proto::time::to_unix_ms(
        (i32::try_from(y).ok()?, small(mo)?, small(d)?),
        (small(h)?, small(mi)?, small(s.min(59))?),
        offset_ms,
    )
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `+08:00`, `+0800`, `Z`, `GMT`, `UT`, `UTC` to milliseconds east of UTC.
fn offset(s: &str) -> Option<i64> {
    match s {
        "Z" | "GMT" | "UT" | "UTC" => return Some(0),
        "HKT" => return Some(HK_OFFSET_MS),
        _ => {}
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 {
        return None;
    }
    let h = num(&digits[..2])?;
    let m = num(&digits[2..])?;
    (h <= 14 && m < 60).then_some(sign * (h * 3_600_000 + m * 60_000))
}

/// ISO 8601 / RFC 3339 date and time with an offset: `2021-09-14T12:45:00+08:00`.
/// Without an offset the time is taken as Hong Kong time.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once('T').or_else(|| s.split_once(' '))?;
    let mut dp = date.split('-');
    let (y, mo, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if dp.next().is_some() {
        return None;
    }
    let split = rest.find(['+', '-', 'Z']).unwrap_or(rest.len());
    let (clock, off) = rest.split_at(split);
    let off = if off.is_empty() {
        HK_OFFSET_MS
    } else {
        offset(off)?
    };
    let clock = clock.split('.').next()?;
    let mut cp = clock.split(':');
    let h = num(cp.next()?)?;
    let mi = num(cp.next()?)?;
    let sec = cp.next().map(num).unwrap_or(Some(0))?;
    if cp.next().is_some() {
        return None;
    }
    local_to_ms(y, mo, d, h, mi, sec, off)
}

fn month(name: &str) -> Option<i64> {
    const M: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let n = name.get(..3)?.to_ascii_lowercase();
    M.iter().position(|m| *m == n).map(|i| i as i64 + 1)
}

/// RFC 2822 (RSS `pubDate`): `Thu, 25 Jun 2026 16:00:00 GMT`; the weekday is optional and
/// not checked; seconds are optional.
pub fn parse_rfc2822(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((_, rest)) => rest,
        None => s,
    };
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [d, mo, y, clock, rest @ ..] = parts.as_slice() else {
        return None;
    };
    let off = match rest.first() {
        Some(z) => offset(z)?,
        None => 0,
    };
    let mut cp = clock.split(':');
    let h = num(cp.next()?)?;
    let mi = num(cp.next()?)?;
    let sec = cp.next().map(num).unwrap_or(Some(0))?;
    let mut y = num(y)?;
    if y < 100 {
        y += if y < 50 { 2000 } else { 1900 };
    }
    local_to_ms(y, month(mo)?, num(d)?, h, mi, sec, off)
}

/// The Transport Department's `ReferenceDate`: Hong Kong time as `Y/M/D`, an optional AM/PM
/// marker (上午 / 下午, or AM / PM), and `h:mm:ss`, with stray spaces:
/// `" 2017/9/16 上午 07:20:43"`. Without a marker the hour is read as 0-23.
pub fn parse_td(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let (date, marker, clock) = match parts.as_slice() {
        // `2017/9/16 07:20:43 AM`
        [date, clock, marker] if clock.contains(':') => (*date, Some(*marker), *clock),
        // `2017/9/16 上午 07:20:43`
        [date, marker, clock] => (*date, Some(*marker), *clock),
        [date, clock] => (*date, None, *clock),
        _ => return None,
    };
    let mut dp = date.split(['/', '-']);
    let (y, mo, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if dp.next().is_some() {
        return None;
    }
    let mut cp = clock.split(':');
    let mut h = num(cp.next()?)?;
    let mi = num(cp.next()?)?;
    let sec = cp.next().map(num).unwrap_or(Some(0))?;
    match marker.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some("上午" | "AM" | "A.M.") => {
            if !(1..=12).contains(&h) {
                return None;
            }
            if h == 12 {
                h = 0;
            }
        }
        Some("下午" | "PM" | "P.M.") => {
            if !(1..=12).contains(&h) {
                return None;
            }
            if h != 12 {
                h += 12;
            }
        }
        Some(_) => return None,
    }
    local_to_ms(y, mo, d, h, mi, sec, HK_OFFSET_MS)
}

/// HKO's `forecastDate` (`20240319`) as `2024-03-19`, if it is a date.
pub fn yyyymmdd(s: &str) -> Option<String> {
    if s.len() != 8 {
        return None;
    }
    let (y, mo, d) = (num(&s[..4])?, num(&s[4..6])?, num(&s[6..])?);
    local_to_ms(y, mo, d, 0, 0, 0, 0)?;
    Some(format!("{y:04}-{mo:02}-{d:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamsmart_proto::time::hk_date_time;

    const T: i64 = 1_505_517_643_000; // 2017-09-15T23:20:43Z = 2017-09-16 07:20:43 in Hong Kong

    #[test]
    fn iso_with_offsets() {
        assert_eq!(parse_iso("2017-09-16T07:20:43+08:00"), Some(T));
        assert_eq!(parse_iso("2017-09-15T23:20:43Z"), Some(T));
        assert_eq!(parse_iso("2017-09-15T23:20:43.250+00:00"), Some(T));
        assert_eq!(parse_iso("2017-09-16T07:20:43"), Some(T));
        assert_eq!(parse_iso("2017-09-16T07:20+0800"), Some(T - 43_000));
        for bad in [
            "",
            "2017-09-31T07:20:43+08:00",
            "2017-13-01T00:00:00Z",
            "2017-09-16T25:00:00Z",
            "2017-09-16",
            "yesterday",
            "2017-09-16T07:20:43+99:00",
            "99999-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc2822_dates() {
        assert_eq!(
            parse_rfc2822("Thu, 25 Jun 2026 16:00:00 GMT").map(hk_date_time),
            Some("2026-06-26 00:00".into())
        );
        assert_eq!(
            parse_rfc2822("Tue, 04 Nov 2025 17:33:44 +0800").map(hk_date_time),
            Some("2025-11-04 17:33".into())
        );
        assert_eq!(parse_rfc2822("Fri, 15 Sep 2017 23:20:43 +0000"), Some(T));
        assert_eq!(parse_rfc2822("15 Sep 2017 23:20:43 GMT"), Some(T));
        assert_eq!(parse_rfc2822("Thu, 25 Foo 2026 16:00:00 GMT"), None);
        assert_eq!(parse_rfc2822("Thu, 25 Jun"), None);
    }

    #[test]
    fn td_dates_with_the_chinese_am_pm_marker() {
        assert_eq!(parse_td(" 2017/9/16 上午 07:20:43"), Some(T));
        assert_eq!(
            parse_td("2017/9/16 下午 07:20:43"),
            Some(T + 12 * 3_600_000)
        );
        assert_eq!(
            parse_td("2017/9/16 上午 12:05:00").map(hk_date_time),
            Some("2017-09-16 00:05".into())
        );
        assert_eq!(
            parse_td("2017/9/16 下午 12:05:00").map(hk_date_time),
            Some("2017-09-16 12:05".into())
        );
        assert_eq!(parse_td("2017/9/16 07:20:43 AM"), Some(T));
        assert_eq!(parse_td("2017/9/16 19:20:43"), Some(T + 12 * 3_600_000));
        assert_eq!(parse_td("2017/9/16 下午 13:00:00"), None);
        assert_eq!(parse_td("2017/9/16 晚上 07:20:43"), None);
        assert_eq!(parse_td(""), None);
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(hk_date_time(T), "2017-09-16 07:20");
        assert_eq!(yyyymmdd("20240319").as_deref(), Some("2024-03-19"));
        assert_eq!(yyyymmdd("20240230"), None);
        assert_eq!(yyyymmdd("20240229").as_deref(), Some("2024-02-29"));
        assert_eq!(yyyymmdd("21000229"), None);
    }
}
