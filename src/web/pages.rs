//! The HTML pages: an insight, a day's brief, a topic, search results. Compiled `maud`
//! templates, which escape every value they interpolate; links taken from feeds are kept only
//! when they are http(s), and so is a show's artwork (an `<img src>` the reader's browser
//! loads: the server never fetches it). No JavaScript (the Content-Security-Policy forbids it);
//! a little inline CSS for phones; every page has a search form (a plain GET to `/search`).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use tracing::error;

use super::site::Site;
use crate::core::model::{InsightView, format_timestamp};
use crate::core::text::normalize_topic;

/// Related insights shown on an insight page, at most.
const RELATED: usize = 10;
/// Insights per topic page.
pub(crate) const PER_PAGE: i64 = 20;
/// Longest text put in a `<title>` or an Open Graph title.
const TITLE_CHARS: usize = 90;
/// Longest description in link previews (`description`, `og:description`): about what
/// platforms show.
const DESCRIPTION_CHARS: usize = 300;

const CSS: &str = "body{font:17px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;\
color:#1b1b1b;background:#fafaf7}main,header,footer{max-width:40rem;margin:0 auto;padding:0 1rem}\
header{padding-top:.75rem}header a{font-weight:700;color:#1b1b1b;text-decoration:none}\
h1{font-size:1.3rem;font-weight:600;line-height:1.4;margin:.75rem 0}h2{font-size:1.1rem;margin-top:2rem}\
a{color:#0b5cad}.meta{color:#555;font-size:.95rem}blockquote{margin:1rem 0;padding:.25rem 1rem;\
border-left:4px solid #c9c4b5;color:#333}cite{display:block;color:#555;font-style:normal}\
.listen{display:inline-block;padding:.45rem .9rem;border-radius:.4rem;background:#0b5cad;\
color:#fff;text-decoration:none}.topics a{display:inline-block;margin:0 .35rem .35rem 0;\
padding:.1rem .55rem;border-radius:1rem;background:#ece8dc;color:#333;text-decoration:none}\
ol,ul{padding-left:1.2rem}li{margin:.6rem 0}footer{color:#777;font-size:.85rem;padding-bottom:2rem}\
nav a{margin-right:1rem}form.search{display:flex;gap:.4rem;margin:.6rem 0}\
form.search input{flex:1;min-width:0;font:inherit;padding:.35rem .6rem;border:1px solid #bbb;\
border-radius:.4rem}form.search button{font:inherit;padding:.35rem .8rem;border:0;\
border-radius:.4rem;background:#0b5cad;color:#fff}.cards{list-style:none;padding:0}\
.card{background:#fff;border:1px solid #e3dfd3;border-radius:.6rem;padding:.7rem .9rem;\
margin:.6rem 0}.card a.take{color:#1b1b1b;text-decoration:none}\
.card a.take:hover,.card a.take:focus{text-decoration:underline}.card .meta{display:block;\
margin-top:.3rem;font-size:.9rem}.show{display:flex;gap:.8rem;align-items:center}\
img.art{width:4rem;height:4rem;border-radius:.4rem;object-fit:cover;flex:none}";

/// A page with the shared head (Open Graph tags, viewport, CSS), header and footer.
struct Page<'a> {
    title: String,
    description: String,
    /// The page's own path, for `og:url` (absolute when `public_url` is set).
    path: String,
    og_type: &'a str,
    body: Markup,
    /// What the search box holds (the lookup on a search page, else empty).
    query: String,
}

/// The search form every page carries: a GET to `/search`, no script.
fn search_form(query: &str) -> Markup {
    html! {
        form.search action="/search" method="get" role="search" {
            input type="search" name="q" value=(query) maxlength=(super::params::MAX_QUERY_CHARS)
                placeholder="Search insights" aria-label="Search insights";
            button type="submit" { "Search" }
        }
    }
}

fn render(site: &Site, p: Page<'_>) -> Response {
    let url = site.absolute(&p.path);
    let description = cut(&p.description, DESCRIPTION_CHARS);
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (cut(&p.title, TITLE_CHARS)) " · podbrief" }
                meta name="description" content=(description);
                meta property="og:site_name" content="podbrief";
                meta property="og:type" content=(p.og_type);
                meta property="og:title" content=(cut(&p.title, TITLE_CHARS));
                meta property="og:description" content=(description);
                @if !site.public_url.trim().is_empty() {
                    meta property="og:url" content=(url);
                    link rel="canonical" href=(url);
                }
                meta name="twitter:card" content="summary";
                link rel="alternate" type="application/rss+xml" title="podbrief daily brief"
                    href=(site.absolute("/brief/feed.xml"));
                style { (PreEscaped(CSS)) }
            }
            body {
                header { a href="/" { "podbrief" } (search_form(&p.query)) }
                main { (p.body) }
                footer {
                    nav {
                        a href="/brief/today" { "Today's brief" }
                        a href="/brief/feed.xml" { "RSS" }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, markup)
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut html = markup.into_string();
    // Safe whatever the store holds (text stored before sanitizing at ingest).
    html.retain(|c| !crate::core::sanitize::is_unsafe_char(c));
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // No script may run, whatever a page contains; styles only inline; no framing.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    r
}

fn not_found(what: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Not found · podbrief" } }
            body { h1 { "Not found" } p { (what) } p { a href="/" { "podbrief" } } }
        }
    };
    html_response(StatusCode::NOT_FOUND, markup)
}

fn failed(e: impl std::fmt::Display) -> Response {
    error!(error = %e, "page failed");
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Error · podbrief" } }
            body { h1 { "Something went wrong" } p { "Please try again later." } }
        }
    };
    html_response(StatusCode::INTERNAL_SERVER_ERROR, markup)
}

fn cut(s: &str, max: usize) -> String {
    crate::core::sanitize::bounded_line(s, max)
}

/// A link from a feed, if it is safe to put in an `href` (http or https only).
fn web_link(link: Option<&str>) -> Option<url::Url> {
    let u = url::Url::parse(link?.trim()).ok()?;
    matches!(u.scheme(), "http" | "https").then_some(u)
}

/// The episode link with a `#t=SECONDS` media fragment (audio players and most podcast pages
/// start there).
pub fn listen_link(link: Option<&str>, start_ms: i64) -> Option<String> {
    let mut u = web_link(link)?;
    u.set_fragment(Some(&format!("t={}", start_ms.max(0) / 1000)));
    Some(u.to_string())
}

/// The path of a topic's page (the topic percent-encoded as one segment).
pub fn topic_path(topic: &str) -> String {
    let mut u = url::Url::parse("http://x/topics/").expect("a constant URL parses");
    if let Ok(mut segs) = u.path_segments_mut() {
        segs.pop_if_empty().push(topic);
    }
    u.path().to_string()
}

/// One insight in a list: its text linking to its page, and where it is from.
pub(crate) fn insight_item(i: &InsightView) -> Markup {
    html! {
        li {
            a href=(format!("/i/{}", i.id)) { (i.text) }
            br;
            span.meta {
                @if let Some(s) = &i.speaker { (s) ", " }
                (i.podcast_title) " · " (i.episode_title)
            }
        }
    }
}

/// The speaker's words under a takeaway, with who said them and when, when they say more than
/// the takeaway (nothing otherwise).
pub(crate) fn quote_block(i: &InsightView) -> Markup {
    html! {
        @if let Some(q) = i.shown_quote() {
            blockquote.quote {
                "“" (q) "”"
                @if i.speaker.is_some() || i.start_ms.is_some() {
                    cite {
                        "— "
                        @if let Some(s) = &i.speaker { (s) }
                        @if i.speaker.is_some() && i.start_ms.is_some() { ", " }
                        @if let Some(ms) = i.start_ms { "at " (format_timestamp(ms)) }
                    }
                }
            }
        }
    }
}

/// One insight of a day's brief: [`insight_item`] with its quote.
fn brief_item(i: &InsightView) -> Markup {
    html! {
        li {
            a href=(format!("/i/{}", i.id)) { (i.text) }
            (quote_block(i))
            span.meta {
                @if let Some(s) = &i.speaker { (s) ", " }
                (i.podcast_title) " · " (i.episode_title)
            }
        }
    }
}

/// One insight as a compact card: its takeaway (linking to its page, not underlined), then who
/// said it, the show and the episode.
pub(crate) fn card(i: &InsightView) -> Markup {
    html! {
        li.card {
            a.take href=(format!("/i/{}", i.id)) { (i.text) }
            span.meta {
                @if let Some(s) = &i.speaker { (s) " · " }
                (i.podcast_title) " · " (i.episode_title)
            }
        }
    }
}

/// Topic chips, each leading to its topic page.
fn chips(topics: &[String]) -> Markup {
    html! {
        @if !topics.is_empty() {
            p.topics { @for t in topics { a href=(topic_path(t)) { (t) } } }
        }
    }
}

/// `/`: today's brief.
pub async fn home(State(site): State<Site>) -> Response {
    let today = site.now().date_naive();
    brief_page(&site, today).await
}

/// `/i/{id}`: an insight, where it was said, the show's artwork, its topics and up to
/// [`RELATED`] related insights as cards.
pub async fn insight(State(site): State<Site>, Path(id): Path<String>) -> Response {
    let Some(id) = super::params::insight_id(&id) else {
        return not_found("There is no such insight.");
    };
    let found = match site.store().insights(&[id]).await {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    let Some(i) = found.into_iter().next() else {
        return not_found("There is no such insight.");
    };
    let related = match related_of(&site, &i).await {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    let art = match site.store().podcast_image(i.podcast_id).await {
        Ok(image) => web_link(image.as_deref()),
        Err(e) => return failed(e),
    };
    render(
        &site,
        Page {
            title: cut(&i.text, TITLE_CHARS),
            description: format!("{} — {} · {}", i.text, i.podcast_title, i.episode_title),
            path: format!("/i/{}", i.id),
            og_type: "article",
            body: insight_body(&i, &related, art.as_ref()),
            query: String::new(),
        },
    )
}

/// The insights related to `i` (none when the index fails: the page still shows the insight).
async fn related_of(
    site: &Site,
    i: &InsightView,
) -> Result<Vec<InsightView>, crate::store::StoreError> {
    let same_episode = site.core.settings().related_same_episode;
    match site.index.related(i, RELATED, same_episode, site.now()) {
        Ok(hits) => {
            let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
            site.store().insights(&ids).await
        }
        Err(e) => {
            error!(error = %e, insight = i.id, "related insights failed");
            Ok(Vec::new())
        }
    }
}

/// The body of an insight's page.
fn insight_body(i: &InsightView, related: &[InsightView], art: Option<&url::Url>) -> Markup {
    let episode = web_link(i.episode_link.as_deref());
    let listen = i
        .start_ms
        .and_then(|ms| listen_link(i.episode_link.as_deref(), ms).map(|l| (l, ms)));
    html! {
        article {
            div.show {
                @if let Some(u) = art { img.art src=(u.as_str()) alt="" referrerpolicy="no-referrer"; }
                p.meta {
                    (i.podcast_title) " · "
                    @if let Some(u) = &episode { a href=(u.as_str()) { (i.episode_title) } }
                    @else { (i.episode_title) }
                    @if let Some(ch) = &i.chapter { " · " (ch) }
                    " · " (i.published_at.format("%-d %B %Y"))
                }
            }
            h1 { (i.text) }
            @if i.shown_quote().is_some() {
                (quote_block(i))
            } @else if let Some(s) = &i.speaker {
                p.meta { "— " (s) }
            }
            @if let Some((link, ms)) = &listen {
                p { a.listen href=(link) { "Listen at " (format_timestamp(*ms)) } }
            } @else if let Some(u) = &episode {
                p { a.listen href=(u.as_str()) { "Listen to the episode" } }
            }
            (chips(&i.topics))
        }
        section.related {
            h2 { "Related insights" }
            @if related.is_empty() {
                p.meta { "Nothing else on this yet." }
            } @else {
                ul.cards { @for r in related { (card(r)) } }
            }
        }
    }
}

/// `/search?q=`: the chat's lookup ("related to …") on a page, its results as cards.
pub async fn search(State(site): State<Site>, RawQuery(query): RawQuery) -> Response {
    let q = super::params::search_query(query.as_deref());
    let found = if q.is_empty() {
        Vec::new()
    } else {
        let limit = site.core.settings().results;
        match site.index.search_hybrid(&q, limit, site.now()).await {
            Ok(hits) => {
                let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
                match site.store().insights(&ids).await {
                    Ok(v) => v,
                    Err(e) => return failed(e),
                }
            }
            Err(e) => {
                error!(error = %e, "search page lookup failed");
                Vec::new()
            }
        }
    };
    let topics = if found.is_empty() {
        site.index.top_topics(8)
    } else {
        Vec::new()
    };
    let body = html! {
        @if q.is_empty() {
            h1 { "Search insights" }
            p { "Type a subject above: words, a name, a question." }
        } @else {
            h1 { "Insights on “" (q) "”" }
            @if found.is_empty() {
                p { "Nothing on “" (q) "” yet." }
            } @else {
                ul.cards { @for i in &found { (card(i)) } }
            }
        }
        @if !topics.is_empty() { h2 { "Topics" } (chips(&topics)) }
    };
    render(
        &site,
        Page {
            title: if q.is_empty() {
                "Search".into()
            } else {
                format!("Search: {q}")
            },
            description: "Search podcast insights.".into(),
            path: "/search".into(),
            og_type: "website",
            body,
            query: q,
        },
    )
}

/// `/brief/{date}`: that day's top insights (`YYYY-MM-DD`, or `today`).
pub async fn brief(State(site): State<Site>, Path(date): Path<String>) -> Response {
    let Some(day) = super::params::brief_day(&date, site.now().date_naive()) else {
        return not_found("A brief's address is /brief/YYYY-MM-DD (from 1970).");
    };
    brief_page(&site, day).await
}

async fn brief_page(site: &Site, day: NaiveDate) -> Response {
    let picked = match site.brief_of(day).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found("That day has not come yet."),
        Err(e) => return failed(e),
    };
    let title = format!("podbrief for {}", day.format("%A %-d %B %Y"));
    let prev = day.pred_opt().filter(|d| *d >= super::params::FIRST_DAY);
    let next = day.succ_opt().filter(|d| *d <= site.now().date_naive());
    let topics = site.index.top_topics(12);
    let body = html! {
        h1 { (title) }
        @if picked.is_empty() {
            p { "No insights from recent episodes on this day." }
        } @else {
            ol { @for i in &picked { (brief_item(i)) } }
        }
        nav {
            @if let Some(p) = prev { a href=(format!("/brief/{p}")) { "← " (p) } }
            @if let Some(n) = next { a href=(format!("/brief/{n}")) { (n) " →" } }
        }
        @if !topics.is_empty() {
            h2 { "Topics" }
            p.topics { @for t in &topics { a href=(topic_path(t)) { (t) } } }
        }
    };
    let description = picked
        .first()
        .map(|i| i.text.clone())
        .unwrap_or_else(|| "The day's top podcast insights.".into());
    render(
        site,
        Page {
            title,
            description,
            path: format!("/brief/{day}"),
            og_type: "website",
            body,
            query: String::new(),
        },
    )
}

/// `/topics/{topic}`: insights on a topic, newest first, [`PER_PAGE`] a page.
pub async fn topic(
    State(site): State<Site>,
    Path(topic): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let topic = normalize_topic(&topic);
    if topic.is_empty() {
        return not_found("There is no such topic.");
    }
    let page = super::params::page_of_query(query.as_deref());
    let found = match site
        .store()
        .insights_on_topic(&topic, (page - 1) * PER_PAGE, PER_PAGE + 1)
        .await
    {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    if found.is_empty() && page > 1 {
        return not_found("There are no more insights on this topic.");
    }
    let more = found.len() as i64 > PER_PAGE;
    let shown = &found[..found.len().min(PER_PAGE as usize)];
    let path = topic_path(&topic);
    let body = html! {
        h1 { "Insights on “" (topic) "”" }
        @if shown.is_empty() {
            p { "No insights on this topic yet." }
        } @else {
            ul { @for i in shown { (insight_item(i)) } }
        }
        nav {
            @if page > 1 { a href=(format!("{path}?page={}", page - 1)) { "← Newer" } }
            @if more { a href=(format!("{path}?page={}", page + 1)) { "Older →" } }
        }
    };
    render(
        &site,
        Page {
            title: format!("Insights on {topic}"),
            description: format!("Podcast insights on {topic}, newest first."),
            path: if page > 1 {
                format!("{path}?page={page}")
            } else {
                path.clone()
            },
            og_type: "website",
            body,
            query: String::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_links_keep_only_web_urls_and_carry_the_time() {
        assert_eq!(
            listen_link(Some("https://ex.com/ep.mp3#old"), 754_321).as_deref(),
            Some("https://ex.com/ep.mp3#t=754")
        );
        assert_eq!(listen_link(Some("javascript:alert(1)"), 1000), None);
        assert_eq!(listen_link(Some("data:text/html,x"), 1000), None);
        assert_eq!(listen_link(None, 1000), None);
    }

    #[test]
    fn topic_paths_are_one_encoded_segment() {
        assert_eq!(topic_path("heat pumps"), "/topics/heat%20pumps");
        assert_eq!(topic_path("a/b?c#d"), "/topics/a%2Fb%3Fc%23d");
    }

    #[test]
    fn interpolated_text_is_escaped() {
        let i = InsightView {
            id: 3,
            text: "<script>alert(1)</script>".into(),
            quote: String::new(),
            start_ms: None,
            end_ms: None,
            speaker: Some("\"><img src=x onerror=alert(1)>".into()),
            score: 0.5,
            topics: vec![],
            content_hash: "h".into(),
            episode_id: 1,
            episode_title: "E & F".into(),
            episode_link: None,
            published_at: chrono::Utc::now(),
            podcast_id: 1,
            podcast_title: "P".into(),
            chapter: None,
        };
        let s = insight_item(&i).into_string();
        assert!(!s.contains("<script>") && !s.contains("<img"), "{s}");
        assert!(
            s.contains("&lt;script&gt;") && s.contains("E &amp; F"),
            "{s}"
        );
    }
}
