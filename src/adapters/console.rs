//! The console chat: stdin/stdout, no tokens. The console is a chat like any other: it can
//! subscribe, and its brief prints when its time comes.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::core::command::ParseContext;
use crate::core::model::{ChatRef, Platform, Reply, format_timestamp};
use crate::core::{Core, UserContext};
use crate::deliver::{SendError, Sender};

/// Where console output goes.
pub type ConsoleOut = Arc<Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

/// The console's one chat.
pub fn console_chat() -> ChatRef {
    ChatRef {
        platform: Platform::Console,
        chat_id: "console".into(),
        thread_id: None,
    }
}

/// Renders a reply as plain text: the message, then numbered cards.
pub fn render(reply: &Reply) -> String {
    let mut out = String::new();
    out.push_str(&reply.text);
    out.push('\n');
    for (n, c) in reply.cards.iter().enumerate() {
        out.push_str(&format!("\n{}. {}\n", n + 1, c.text));
        if let Some(q) = c.shown_quote() {
            out.push_str(&format!("   “{q}”\n"));
        }
        let mut by = String::from("   —");
        if let Some(s) = &c.speaker {
            by.push_str(&format!(" {s},"));
        }
        by.push_str(&format!(" {} · \"{}\"", c.podcast, c.episode));
        if let Some(ch) = &c.chapter {
            by.push_str(&format!(" · {ch}"));
        }
        if let Some(ms) = c.start_ms {
            by.push_str(&format!(" at {}", format_timestamp(ms)));
        }
        out.push_str(&by);
        out.push('\n');
        if let Some(link) = &c.link {
            out.push_str(&format!("   {link}\n"));
        }
        out.push_str(&format!("   more like this: /more {}\n", c.insight_id));
    }
    out
}

/// The console adapter.
pub struct Console {
    core: Arc<Core>,
    out: ConsoleOut,
}

impl Console {
    /// A console writing to `out`.
    pub fn new(core: Arc<Core>, out: ConsoleOut) -> Console {
        Console { core, out }
    }

    /// The sender that prints briefs on this console.
    pub fn sender(&self) -> Arc<dyn Sender> {
        Arc::new(ConsoleSender {
            out: self.out.clone(),
        })
    }

    async fn write(&self, text: &str) -> std::io::Result<()> {
        write_out(&self.out, text).await
    }

    /// Reads commands line by line until end of input or `/quit`.
    pub async fn run<R: AsyncBufRead + Unpin>(&self, input: R) -> std::io::Result<()> {
        self.write(
            "podbrief console — type /help, /top, or \"related to <words>\". /quit leaves.\n",
        )
        .await?;
        let ctx = UserContext {
            chat: console_chat(),
            user_id: Some("console".into()),
            can_manage: true,
            scope_id: None,
        };
        let parse = ParseContext {
            bot_username: None,
            plain_text_is_lookup: true,
        };
        let mut lines = input.lines();
        while let Some(line) = lines.next_line().await? {
            let line = line.trim();
            if matches!(line, "/quit" | "/exit") {
                break;
            }
            if let Some(reply) = self.core.handle_text(&ctx, line, parse).await {
                self.write(&format!("{}\n", render(&reply))).await?;
            }
        }
        Ok(())
    }
}

async fn write_out(out: &ConsoleOut, text: &str) -> std::io::Result<()> {
    let mut out = out.lock().await;
    out.write_all(text.as_bytes()).await?;
    out.flush().await
}

struct ConsoleSender {
    out: ConsoleOut,
}

#[async_trait]
impl Sender for ConsoleSender {
    async fn send(&self, _chat: &ChatRef, reply: &Reply) -> Result<Vec<String>, SendError> {
        write_out(&self.out, &format!("\n{}\n", render(reply)))
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?;
        Ok(vec![])
    }
}
