//! Chat messages: a command, not for the bot, or a usage error, never a panic. The first byte
//! picks the context (bot username given or not; plain text a lookup or not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use podbrief::core::command::{Command, ParseContext};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let ctx = ParseContext {
        bot_username: (flags & 1 == 1).then_some("podbrief_bot"),
        plain_text_is_lookup: flags & 2 == 2,
    };
    let _ = Command::parse(text, ctx);
});
