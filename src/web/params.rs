//! What the site's routes read from a request's path and query, checked before any work: a
//! brief's day, an insight's id, a topic page's number, and a day's brief window. Pure
//! functions, so every edge (chrono's range, huge numbers, odd bytes) answers "not found"
//! rather than overflowing.

use chrono::{DateTime, NaiveDate, Utc};

/// The earliest day a brief page exists for (nothing older can have insights).
pub const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

/// The last page of a topic listing (`?page=N`).
pub const MAX_PAGE: i64 = 100_000;

/// The day of `/brief/{date}`: `today`, or `YYYY-MM-DD` from [`FIRST_DAY`] on. `None` for
/// anything else (a malformed date, or one outside the range the site serves).
pub fn brief_day(segment: &str, today: NaiveDate) -> Option<NaiveDate> {
    if segment == "today" {
        return Some(today);
    }
    // Exactly four digits of year: chrono would read signed and six-digit years too.
    let b = segment.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::parse_from_str(segment, "%Y-%m-%d")
        .ok()
        .filter(|d| *d >= FIRST_DAY)
}

/// The id of `/i/{id}`: a positive integer.
pub fn insight_id(segment: &str) -> Option<i64> {
    segment.parse::<i64>().ok().filter(|id| *id > 0)
}

/// The page of `?page=N`: 1 to [`MAX_PAGE`], 1 when missing or malformed.
pub fn page_number(page: Option<&str>) -> i64 {
    page.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| (1..=MAX_PAGE).contains(p))
        .unwrap_or(1)
}

/// The page a topic listing's query asks for (its first `page=N`, decoded as a form).
pub fn page_of_query(query: Option<&str>) -> i64 {
    let page = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "page")
            .map(|(_, v)| v.into_owned())
    });
    page_number(page.as_deref())
}

/// The longest lookup the search page reads (characters; the rest is dropped).
pub const MAX_QUERY_CHARS: usize = 200;

/// The lookup of `/search?q=`: its first `q`, decoded as a form, unsafe characters dropped,
/// trimmed and cut to [`MAX_QUERY_CHARS`]; empty when missing.
pub fn search_query(query: Option<&str>) -> String {
    let q = query
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    let q: String = q
        .chars()
        .filter(|c| !crate::core::sanitize::is_unsafe_char(*c))
        .take(MAX_QUERY_CHARS)
        .collect();
    q.trim().to_string()
}

/// When `day`'s brief is taken (the end of the day, or `now` for today) and the earliest
/// publication it looks back to. `None` for a day after `now`'s, or one whose window falls
/// outside chrono's range.
pub fn brief_window(
    day: NaiveDate,
    now: DateTime<Utc>,
    lookback: chrono::Duration,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if day > now.date_naive() {
        return None;
    }
    let end = day
        .succ_opt()?
        .and_hms_opt(0, 0, 0)?
        .and_utc()
        .checked_sub_signed(chrono::Duration::seconds(1))?;
    let at = end.min(now);
    Some((at.checked_sub_signed(lookback)?, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn brief_days_outside_the_served_range_are_none() {
        let today = d("2026-11-27");
        assert_eq!(brief_day("today", today), Some(today));
        assert_eq!(brief_day("2026-11-01", today), Some(d("2026-11-01")));
        for bad in [
            "-262143-01-01",
            "+262142-12-31",
            "262142-12-31",
            "0000-01-01",
            "1969-12-31",
            "2026-02-30",
            "2026-1-01",
            "2026-11-01x",
            "",
            "９９９９-01-01",
        ] {
            assert_eq!(brief_day(bad, today), None, "{bad}");
        }
    }

    #[test]
    fn windows_at_the_edges_of_chrono_are_none_not_a_panic() {
        let now: DateTime<Utc> = "2026-11-27T06:00:00Z".parse().unwrap();
        let week = chrono::Duration::days(7);
        assert_eq!(brief_window(NaiveDate::MIN, now, week), None);
        assert_eq!(brief_window(NaiveDate::MAX, now, week), None);
        assert_eq!(brief_window(d("2026-11-28"), now, week), None);
        let (from, at) = brief_window(d("2026-11-27"), now, week).unwrap();
        assert_eq!((from, at), (now - week, now));
        let huge = chrono::Duration::MAX;
        assert_eq!(brief_window(d("2026-11-20"), now, huge), None);
    }

    #[test]
    fn ids_and_pages_are_bounded() {
        assert_eq!(insight_id("42"), Some(42));
        assert_eq!(insight_id("-1"), None);
        assert_eq!(insight_id("99999999999999999999"), None);
        assert_eq!(page_number(Some("3")), 3);
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(Some("9223372036854775807")), 1);
        assert_eq!(page_number(None), 1);
        assert_eq!(page_of_query(Some("x=1&page=%32")), 2);
        assert_eq!(page_of_query(Some("page")), 1);
    }
}
