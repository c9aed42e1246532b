//! The operator's view of deliveries: `podbrief subscriptions` and `podbrief deliveries`.

use crate::core::model::Subscription;
use crate::store::DeliveryRow;

fn chat(s: &Subscription) -> String {
    match &s.chat.thread_id {
        Some(t) => format!("{}:{}:{t}", s.chat.platform.as_str(), s.chat.chat_id),
        None => format!("{}:{}", s.chat.platform.as_str(), s.chat.chat_id),
    }
}

/// Prints subscriptions with their next run, last delivery and pause reason.
pub fn print_subscriptions(
    subs: &[(Subscription, Option<DeliveryRow>)],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let v: Vec<serde_json::Value> = subs
            .iter()
            .map(|(s, last)| {
                serde_json::json!({
                    "id": s.id, "chat": chat(s), "schedule": s.schedule.as_str(), "timezone": s.timezone.as_str(), "size": s.size,
                    "topics": s.topics, "next_run_at": s.next_run_at, "paused_reason": s.paused_reason,
                    "last_delivery": last,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if subs.is_empty() {
        println!("no subscriptions");
    }
    for (s, last) in subs {
        let last = match last {
            Some(d) => format!(
                "last {} {} ({})",
                d.status,
                d.occurrence.format("%Y-%m-%d %H:%M"),
                d.error.as_deref().unwrap_or("ok")
            ),
            None => "never delivered".into(),
        };
        let state = match &s.paused_reason {
            Some(r) => format!("PAUSED: {r}"),
            None => format!("next {}", s.next_run_at.format("%Y-%m-%d %H:%M UTC")),
        };
        println!(
            "#{:<5} {:<32} {} {} · {state} · {last}",
            s.id,
            chat(s),
            s.schedule,
            s.timezone
        );
    }
    Ok(())
}

/// Prints deliveries, with errors.
pub fn print_deliveries(rows: &[DeliveryRow], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no deliveries");
    }
    for d in rows {
        println!(
            "#{:<6} {:<32} {} {:<7} attempts {}{}",
            d.id,
            d.chat,
            d.occurrence.format("%Y-%m-%d %H:%M UTC"),
            d.status,
            d.attempts,
            d.error
                .as_deref()
                .map(|e| format!(" · {e}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
