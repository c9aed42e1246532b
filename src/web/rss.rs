//! `/brief/feed.xml`: the daily brief as an RSS 2.0 feed, one item per day of the last week that
//! had insights, each item listing that day's top insights with links to their pages.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use maud::html;
use quick_xml::escape::escape;
use tracing::error;

use super::site::Site;

/// Days the feed covers, today included.
pub const DAYS: u32 = 7;

/// `/brief/feed.xml`.
pub async fn feed(State(site): State<Site>) -> Response {
    match feed_xml(&site).await {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
            xml,
        )
            .into_response(),
        Err(e) => {
            error!(error = %e, "brief feed failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the feed is unavailable").into_response()
        }
    }
}

/// The feed's XML.
pub async fn feed_xml(site: &Site) -> Result<String, crate::store::StoreError> {
    let now = site.now();
    let today = now.date_naive();
    let first = today - chrono::Duration::days(i64::from(DAYS) - 1);
    let lookback = site.core.settings().lookback;
    let oldest_end = site.end_of(first).unwrap_or(now);
    // One query for the whole week; each day then ranks its share.
    let candidates = site
        .store()
        .brief_candidates(oldest_end - lookback, None)
        .await?;
    let mut xml = String::with_capacity(8192);
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\">\n<channel>\n\
         <title>podbrief daily brief</title>\n<link>{}</link>\n\
         <description>The top podcast insights of each day.</description>\n\
         <language>en</language>\n<lastBuildDate>{}</lastBuildDate>\n<ttl>60</ttl>\n",
        escape(site.absolute("/brief/today")),
        now.to_rfc2822()
    );
    let days = (0..DAYS).filter_map(|n| today.checked_sub_days(chrono::Days::new(u64::from(n))));
    for day in days {
        let Some(at) = site.end_of(day) else { continue };
        let picked = site.rank_at(&candidates, at);
        if picked.is_empty() {
            continue;
        }
        item(&mut xml, site, day, at, &picked);
    }
    xml.push_str("</channel>\n</rss>\n");
    // Well-formed whatever the store holds: characters XML forbids never reach a feed reader.
    xml.retain(|c| !crate::core::sanitize::is_unsafe_char(c));
    Ok(xml)
}

fn item(
    xml: &mut String,
    site: &Site,
    day: NaiveDate,
    at: chrono::DateTime<chrono::Utc>,
    picked: &[crate::core::model::InsightView],
) {
    let link = site.absolute(&format!("/brief/{day}"));
    // The description is HTML, itself escaped as XML text: both layers are escaped.
    let body = html! {
        ol {
            @for i in picked {
                li {
                    a href=(site.absolute(&format!("/i/{}", i.id))) { (i.text) }
                    " — " (i.podcast_title) " · " (i.episode_title)
                    (super::pages::quote_block(i))
                }
            }
        }
    }
    .into_string();
    let _ = write!(
        xml,
        "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"true\">{}</guid>\n\
         <pubDate>{}</pubDate>\n<description>{}</description>\n</item>\n",
        escape(format!("podbrief for {}", day.format("%A %-d %B %Y"))),
        escape(&link),
        escape(&link),
        at.to_rfc2822(),
        escape(&body)
    );
}
