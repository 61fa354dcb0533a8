//! The layering of src/ as docs/architecture.md declares it: every `crate::`, `super::` and
//! `switchboard::` path in src/ that reaches another top-level module must be an edge the
//! table allows. The table is the single source; this test names the file, line and edge of
//! every import it forbids, and fails when a module has no row or a row no module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const TABLE_BEGIN: &str = "<!-- layers:begin -->";
const TABLE_END: &str = "<!-- layers:end -->";

/// module -> (layer, the modules it may import).
type Table = BTreeMap<String, (u32, BTreeSet<String>)>;

/// Reads the table between the markers: `| module | layer | may import |`, the last column a
/// comma-separated list of modules, or `—` for none.
fn parse_table(doc: &str) -> Result<Table, String> {
    let start = doc
        .find(TABLE_BEGIN)
        .ok_or("docs/architecture.md has no layers table (its begin marker)")?;
    let end = doc[start..]
        .find(TABLE_END)
        .ok_or("docs/architecture.md: the layers table has no end marker")?;
    let mut table = Table::new();
    for line in doc[start + TABLE_BEGIN.len()..start + end].lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 3 || cells[0].starts_with("---") || cells[0] == "module" {
            continue;
        }
        let module = cells[0].trim_matches('`').to_string();
        let layer = cells[1]
            .parse()
            .map_err(|_| format!("layers table: layer of {module} is not a number"))?;
        let allowed = cells[2]
            .split(',')
            .map(|m| m.trim().trim_matches('`').to_string())
            .filter(|m| !m.is_empty() && m != "—" && m != "-")
            .collect();
        if table.insert(module.clone(), (layer, allowed)).is_some() {
            return Err(format!("layers table: {module} has two rows"));
        }
    }
    Ok(table)
}

/// The path of a file's module below src/: `src/gui/panels/x.rs` is `[gui, panels, x]`,
/// `src/gui/mod.rs` is `[gui]`; main.rs and src/bin/ are the module `main`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.first().map(String::as_str) == Some("bin") || parts == ["main.rs"] {
        return vec!["main".to_string()];
    }
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_string();
        if stem != "mod" {
            parts.push(stem);
        }
    }
    parts
}

/// The code of a line: line comments cut, and string literals emptied (a path written in a
/// string, such as `"nats://crate::x"`, is not an import). Block comments and raw strings
/// spanning lines are not handled; src/ uses line comments.
fn code_of(line: &str) -> String {
    let mut code = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    code.push('"');
                }
                _ => {}
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '"' => {
                in_string = true;
                code.push('"');
            }
            // A char literal of a quote: '"'.
            '\'' if chars.peek() == Some(&'"') => {
                chars.next();
                code.push_str("'\"");
            }
            c => code.push(c),
        }
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level items a line reaches through `crate::`/`switchboard::` (including each
/// name of a `crate::{a, b::c}` group) and through `super::` chains that climb to the root.
fn reached(line: &str, module: &[String], continuation: &mut Option<u32>) -> Vec<String> {
    let mut found = Vec::new();
    // Inside a `use crate::{ ... }` group that spans lines: its top-level names.
    if let Some(depth) = continuation {
        collect_group(line, depth, &mut found);
        if *depth == 0 {
            *continuation = None;
        }
        return found;
    }
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        let preceded_by_ident = i > 0 && is_ident(bytes[i - 1] as char);
        let root_len = ["crate::", "switchboard::", "$crate::"]
            .iter()
            .find(|p| rest.starts_with(**p))
            .map(|p| p.len());
        if let (Some(len), false) = (root_len, preceded_by_ident) {
            let after = &rest[len..];
            if let Some(group) = after.strip_prefix('{') {
                let mut depth = 1;
                collect_group(group, &mut depth, &mut found);
                if depth > 0 {
                    *continuation = Some(depth);
                    return found;
                }
            } else {
                let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
            i += len;
            continue;
        }
        if rest.starts_with("super::") && !preceded_by_ident {
            let mut level = module.len();
            let mut after = rest;
            while let Some(next) = after.strip_prefix("super::") {
                level = level.saturating_sub(1);
                after = next;
            }
            if level == 0 {
                let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
            i += rest.len() - after.len();
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// The names at depth 1 of a brace group, tracking the depth across lines.
fn collect_group(text: &str, depth: &mut u32, found: &mut Vec<String>) {
    let mut at_name_start = *depth == 1;
    let mut name = String::new();
    for c in text.chars() {
        if *depth == 0 {
            break;
        }
        match c {
            '{' => {
                *depth += 1;
                at_name_start = false;
            }
            '}' => {
                *depth -= 1;
                at_name_start = false;
            }
            ',' if *depth == 1 => at_name_start = true,
            c if at_name_start && is_ident(c) => name.push(c),
            _ if at_name_start && !name.is_empty() => {
                found.push(std::mem::take(&mut name));
                at_name_start = false;
            }
            _ => {}
        }
    }
    if !name.is_empty() {
        found.push(name);
    }
}

/// Which module defines each `#[macro_export]` macro (they live at the crate root).
fn macro_homes(files: &[(PathBuf, String)]) -> BTreeMap<String, String> {
    let mut homes = BTreeMap::new();
    for (rel, text) in files {
        let module = module_path(rel);
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("macro_rules!") {
                let name: String = rest.trim().chars().take_while(|c| is_ident(*c)).collect();
                if let Some(top) = module.first() {
                    homes.insert(name, top.clone());
                }
            }
        }
    }
    homes
}

/// Every forbidden edge, as `file:line: from -> to`.
fn violations(table: &Table, files: &[(PathBuf, String)]) -> Vec<String> {
    let macros = macro_homes(files);
    let mut problems = Vec::new();
    for (rel, text) in files {
        let module = module_path(rel);
        let Some(from) = module.first() else {
            continue;
        };
        if rel == Path::new("lib.rs") {
            continue;
        }
        let Some((_, allowed)) = table.get(from) else {
            problems.push(format!(
                "src/{}: module {from} has no row in the layers table",
                rel.display()
            ));
            continue;
        };
        let mut continuation = None;
        for (n, line) in text.lines().enumerate() {
            for name in reached(&code_of(line), &module, &mut continuation) {
                let to = macros.get(&name).cloned().unwrap_or(name);
                if &to == from || to == "self" {
                    continue;
                }
                if !table.contains_key(&to) {
                    // Not a module of ours (a type or function at the crate root).
                    continue;
                }
                if !allowed.contains(&to) {
                    problems.push(format!(
                        "src/{}:{}: {from} -> {to} (docs/architecture.md does not allow it)",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, root, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.push((rel, std::fs::read_to_string(&path)?));
        }
    }
    Ok(())
}

fn sources() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &src, &mut files).expect("src/ is readable");
    files.sort();
    files
}

fn table() -> Table {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .expect("docs/architecture.md is readable");
    parse_table(&doc).expect("the layers table parses")
}

#[test]
fn src_imports_only_what_the_layers_table_allows() {
    let problems = violations(&table(), &sources());
    assert!(
        problems.is_empty(),
        "forbidden imports:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_module_has_a_row_and_every_row_a_module() {
    let table = table();
    let modules: BTreeSet<String> = sources()
        .iter()
        .filter(|(rel, _)| rel != Path::new("lib.rs"))
        .filter_map(|(rel, _)| module_path(rel).first().cloned())
        .collect();
    let rows: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(
        modules, rows,
        "modules in src/ (left) and rows of the layers table (right)"
    );
    for (module, (layer, allowed)) in &table {
        for to in allowed {
            let Some((their_layer, _)) = table.get(to) else {
                panic!("{module} may import {to}, which has no row");
            };
            assert!(
                their_layer <= layer,
                "{module} (layer {layer}) may import {to} (layer {their_layer}): upwards"
            );
        }
    }
}

/// The checker itself finds what it must: a forbidden `use`, a group spanning lines, a
/// `super::` that climbs to the root, a path in an expression, and a macro's home; and it
/// ignores comments and paths inside other names.
#[test]
fn the_checker_reports_forbidden_edges() {
    let doc = format!(
        "{TABLE_BEGIN}\n| module | layer | may import |\n| --- | --- | --- |\n\
         | proto | 0 | — |\n| logging | 0 | — |\n| broker | 2 | proto, logging |\n\
         | gui | 5 | proto |\n{TABLE_END}\n"
    );
    let table = parse_table(&doc).unwrap();
    let files = vec![
        (PathBuf::from("logging.rs"), "macro_rules! log_info { () => {} }\n".to_string()),
        (
            PathBuf::from("gui/app.rs"),
            "use crate::proto::x;\n// use crate::broker::y;\nuse crate::{\n    proto::z,\n    broker::Server,\n};\nfn f() { crate::log_info!(); super::super::broker::g(); not_crate::broker::h(); }\n"
                .to_string(),
        ),
        (PathBuf::from("gui/mod.rs"), "let s = \"nats://crate::broker\"; // crate::broker\n".to_string()),
        (PathBuf::from("broker/mod.rs"), "use crate::{proto, logging::x};\nuse super::gui;\n".to_string()),
    ];
    let problems = violations(&table, &files);
    let edges: Vec<String> = problems
        .iter()
        .map(|p| p.split(": ").skip(1).collect::<Vec<_>>().join(": "))
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("src/gui/app.rs:5: gui -> broker")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("src/gui/app.rs:7: gui -> logging")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("src/gui/app.rs:7: gui -> broker")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("src/broker/mod.rs:2: broker -> gui")),
        "{problems:?}"
    );
    // Neither the string nor the trailing comment in gui/mod.rs, nor the commented-out line,
    // nor `not_crate::`.
    assert_eq!(problems.len(), 4, "{edges:?}");
}
