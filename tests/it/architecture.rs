//! The invariants of ARCHITECTURE.md that a reader of `src/` can check: the core knows no
//! platform, no database backend, no config, search or ingest; adapters never know each other;
//! adapters and the web ask the core for intents, not for its store, clock or counters.

use std::path::{Path, PathBuf};

/// Modules of the crate the core must not use.
const NOT_IN_CORE: &[&str] = &[
    "adapters",
    "web",
    "config",
    "search",
    "ingest",
    "store::sqlite",
    "store::postgres",
];

/// Outside crates the core must not use.
const CRATES_NOT_IN_CORE: &[&str] = &["serenity", "teloxide", "axum", "sqlx"];

/// The core's getters meant for the delivery path only.
const CORE_GETTERS: &[&str] = &["store()", "clock()", "metrics()"];

/// Each adapter and the platform crate only it may use.
const ADAPTERS: &[(&str, Option<&str>)] = &[
    ("console", None),
    ("discord", Some("serenity")),
    ("telegram", Some("teloxide")),
];

#[test]
fn the_core_knows_no_platform_and_adapters_know_no_other_adapter() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).expect("a source file reads");
        let module = module_path(&src, &file);
        broken.extend(violations(&module, &text));
    }
    assert!(
        broken.is_empty(),
        "imports that break ARCHITECTURE.md's invariants:\n{}",
        broken.join("\n")
    );
}

/// The longest a function outside tests may be, in lines from `fn` to its closing brace.
const MAX_FUNCTION_LINES: usize = 80;

#[test]
fn no_function_outside_tests_is_over_80_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).expect("a source file reads");
        for (line, name, n) in long_functions(&text) {
            let at = file.strip_prefix(&src).unwrap_or(&file).display();
            long.push(format!("src/{at}:{line} {name}: {n} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines (split them):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_length_check_counts_bodies_and_skips_test_modules_and_declarations() {
    let body = |n: usize| format!("fn long() {{\n{}}}\n", "    x();\n".repeat(n - 2));
    assert_eq!(long_functions(&body(80)), Vec::new());
    assert_eq!(
        long_functions(&format!("// {{\n{}", body(81))),
        vec![(2, "long".to_string(), 81)]
    );
    let braces_in_text = format!(
        "pub async fn f() {{\n    let s = \"}}}}\";\n{}}}\n",
        "    x();\n".repeat(80)
    );
    assert_eq!(long_functions(&braces_in_text)[0].2, 83);
    let declared = format!(
        "trait T {{\n    fn f(&self);\n}}\n#[cfg(test)]\nmod tests {{\n{}}}\n",
        body(90)
    );
    assert_eq!(long_functions(&declared), Vec::new());
}

/// The functions of `text` over [`MAX_FUNCTION_LINES`], outside `#[cfg(test)]` modules: (line,
/// name, lines).
fn long_functions(text: &str) -> Vec<(usize, String, usize)> {
    let code = without_comments_and_text(text);
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_start().starts_with("#[cfg(test)]") {
            // A test module: skip to its closing brace.
            i = block_end(&lines, i + 1).map_or(lines.len(), |end| end + 1);
            continue;
        }
        if let Some(name) = fn_name(lines[i])
            && let Some(end) = block_end(&lines, i)
        {
            let n = end - i + 1;
            if n > MAX_FUNCTION_LINES {
                out.push((i + 1, name, n));
            }
        }
        i += 1;
    }
    out
}

/// The name of the function a line starts, if it starts one.
fn fn_name(line: &str) -> Option<String> {
    let mut rest = line.trim_start();
    if let Some(r) = rest.strip_prefix("pub") {
        rest = match r.strip_prefix('(') {
            Some(r) => r.split_once(')')?.1,
            None => r,
        }
        .trim_start();
    }
    for qualifier in ["const ", "async ", "unsafe "] {
        rest = rest.strip_prefix(qualifier).unwrap_or(rest).trim_start();
    }
    let rest = rest.strip_prefix("fn ")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The line of the brace closing the first block opened from line `from` on; `None` when a `;`
/// comes before any `{` (a declaration without a body).
fn block_end(lines: &[&str], from: usize) -> Option<usize> {
    let mut depth = 0i64;
    let mut opened = false;
    for (k, line) in lines.iter().enumerate().skip(from) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                ';' if !opened => return None,
                _ => {}
            }
            if opened && depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

#[test]
fn the_check_sees_imports_through_groups_and_super_but_not_in_comments_or_text() {
    let core = ["core", "handler"].map(String::from).to_vec();
    assert_eq!(violations(&core, "use crate::config::Config;").len(), 1);
    assert_eq!(
        violations(&core, "use crate::{store::Store, search::Index};").len(),
        1
    );
    assert_eq!(
        violations(&core, "use super::super::ingest::manage;").len(),
        1
    );
    assert_eq!(
        violations(&core, "fn f() { let _ = sqlx::query(\"\"); }").len(),
        1
    );
    assert_eq!(
        violations(&core, "use crate::store::sqlite::SqliteStore;").len(),
        1
    );
    assert!(violations(&core, "use crate::store::{Store, StoreError};").is_empty());
    assert!(violations(&core, "// crate::config::Config\nlet s = \"axum::Router\";").is_empty());
    assert!(violations(&core, "let c = '\"'; let t = \"teloxide::Bot\";").is_empty());
    let web = ["web", "site"].map(String::from).to_vec();
    assert_eq!(
        violations(&web, "self.core\n    .store()\n    .stats()").len(),
        1
    );
    assert!(violations(&web, "self.store.stats(); site.core.now()").is_empty());
    let telegram = ["adapters", "telegram", "send"].map(String::from).to_vec();
    assert_eq!(
        violations(&telegram, "use crate::adapters::discord::render;").len(),
        1
    );
    assert_eq!(
        violations(&telegram, "use super::super::console::Console;").len(),
        1
    );
    assert_eq!(violations(&telegram, "use serenity::all::Http;").len(), 1);
    assert!(
        violations(
            &telegram,
            "use super::render::render_with; use teloxide::Bot;"
        )
        .is_empty()
    );
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src/ lists") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The module path of a file under `src/` (`src/core/handler.rs` → `core::handler`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src/");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// What `text`, the source of module `module`, imports against the invariants.
fn violations(module: &[String], text: &str) -> Vec<String> {
    let name = format!("crate::{}", module.join("::"));
    let code = without_comments_and_text(text);
    let mut found = Vec::new();
    let in_core = module.first().is_some_and(|m| m == "core");
    let adapter = match module {
        [a, name, ..] if a == "adapters" => ADAPTERS.iter().find(|(n, _)| n == name),
        _ => None,
    };
    let outside = module
        .first()
        .is_some_and(|m| m == "adapters" || m == "web");
    let calls: String = compact(&code).into_iter().collect();
    for getter in CORE_GETTERS.iter().filter(|_| outside) {
        if calls.contains(&format!("core.{getter}")) || calls.contains(&format!("core().{getter}"))
        {
            found.push(format!("{name}: asks the core for its {getter}"));
        }
    }
    for path in paths(&code, module) {
        let crate_path = path.strip_prefix("crate::");
        if in_core {
            if let Some(p) = crate_path
                && let Some(bad) = NOT_IN_CORE.iter().find(|m| within(p, m))
            {
                found.push(format!("{name}: the core uses crate::{bad} ({path})"));
            }
            if let Some(bad) = CRATES_NOT_IN_CORE.iter().find(|c| within(&path, c)) {
                found.push(format!("{name}: the core uses {bad} ({path})"));
            }
        }
        if let Some((me, _)) = adapter {
            for (other, platform) in ADAPTERS.iter().filter(|(n, _)| n != me) {
                let theirs = crate_path.is_some_and(|p| within(p, &format!("adapters::{other}")));
                let their_crate = platform.is_some_and(|c| within(&path, c));
                if theirs || their_crate {
                    found.push(format!("{name}: the {me} adapter uses {other}'s ({path})"));
                }
            }
        }
    }
    found
}

/// Whether `path` is `module` or inside it.
fn within(path: &str, module: &str) -> bool {
    path == module || path.starts_with(&format!("{module}::"))
}

/// The paths of `code` (comments and literals removed), `super::` and `self::` resolved against
/// `module`, and `use` groups (`a::{b, c::d}`) expanded one level.
fn paths(code: &str, module: &[String]) -> Vec<String> {
    let bytes = compact(code);
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = ident(bytes[i]) && (i == 0 || !(ident(bytes[i - 1]) || bytes[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && (ident(bytes[j]) || bytes[j] == ':') {
            j += 1;
        }
        let head: String = bytes[i..j].iter().collect();
        if head.ends_with("::") && bytes.get(j) == Some(&'{') {
            let close = group_end(&bytes, j);
            let inner: String = bytes[j + 1..close].iter().collect();
            for item in split_top(&inner) {
                out.push(resolve(&format!("{head}{item}"), module));
            }
            i = close;
        } else if head.contains("::") {
            out.push(resolve(&head, module));
            i = j;
        } else {
            i = j;
        }
    }
    out
}

/// `code` with its whitespace collapsed, and none left beside `:`, `{`, `}`, `,`, `.`, `(` and `)`.
fn compact(code: &str) -> Vec<char> {
    let spaced: Vec<char> = code
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    let tight = |c: Option<&char>| matches!(c, Some(':' | '{' | '}' | ',' | '.' | '(' | ')'));
    (0..spaced.len())
        .filter(|&k| {
            spaced[k] != ' ' || !(tight(spaced.get(k.wrapping_sub(1))) || tight(spaced.get(k + 1)))
        })
        .map(|k| spaced[k])
        .collect()
}

/// The index of the `}` closing the group opened at `open`.
fn group_end(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (k, c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

/// The items of a `use` group, split at its top-level commas.
fn split_top(inner: &str) -> Vec<String> {
    let (mut items, mut depth, mut item) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    items.into_iter().filter(|i| !i.is_empty()).collect()
}

/// `path` with leading `self::` / `super::` resolved to a `crate::` path.
fn resolve(path: &str, module: &[String]) -> String {
    let mut rest = path;
    let mut here = module.to_vec();
    let mut relative = false;
    loop {
        if let Some(r) = rest.strip_prefix("super::") {
            here.pop();
            rest = r;
            relative = true;
        } else if let Some(r) = rest.strip_prefix("self::") {
            rest = r;
            relative = true;
        } else {
            break;
        }
    }
    if !relative {
        return path.to_string();
    }
    let mut parts = vec!["crate".to_string()];
    parts.extend(here);
    parts.push(rest.to_string());
    parts.join("::")
}

/// `text` with comments, string and character literals blanked out (line breaks kept).
fn without_comments_and_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && raw_start(&chars, i) {
            i = raw_end(&chars, i);
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 1) == Some(&'\\') {
            // An escaped character literal: '\'' or '\n'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
            continue;
        }
        // Blanked, keeping its line breaks so lines still count.
        out.push(' ');
        let lines = chars[start..i.min(chars.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count();
        out.extend(std::iter::repeat_n('\n', lines));
    }
    out
}

/// Whether a raw string literal (`r"…"`, `r#"…"#`) starts at `i`, not an identifier ending in r.
fn raw_start(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).map(|k| chars[k]);
    if before.is_some_and(|b| b.is_alphanumeric() || b == '_') {
        return false;
    }
    let mut k = i + 1;
    while chars.get(k) == Some(&'#') {
        k += 1;
    }
    chars.get(k) == Some(&'"')
}

/// The index after the raw string literal starting at `i`.
fn raw_end(chars: &[char], i: usize) -> usize {
    let mut k = i + 1;
    let mut hashes = 0;
    while chars.get(k) == Some(&'#') {
        hashes += 1;
        k += 1;
    }
    k += 1;
    while k < chars.len() {
        if chars[k] == '"' && (1..=hashes).all(|h| chars.get(k + h) == Some(&'#')) {
            return k + 1 + hashes;
        }
        k += 1;
    }
    chars.len()
}
