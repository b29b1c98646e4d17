//! docs/troubleshooting.md lists every condition and event reason the operator can write,
//! each with its cause and fix. The reasons are spread over the reconcile steps (verdicts,
//! refusals, events, error codes), so they are read out of the source: string literals in a
//! reason position, constants used there, and the arms of the functions that turn an error
//! or a refusal into a reason. A reason missing from the page fails, and so does one the page
//! lists that the code no longer writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reasons the page documents before the code that writes them is merged (the pause switch
/// and ExternalDNS of issue 19, built on another branch). Once the code writes one, the test
/// fails until it is taken off this list, so the list cannot go stale.
const DOCUMENTED_AHEAD_OF_CODE: &[&str] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The body of the block opening at or after `from` in `text` (to its matching brace).
fn block(text: &str, from: usize) -> &str {
    let rest = &text[from..];
    let Some(open) = rest.find('{') else { return "" };
    let mut depth = 0;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &rest[open..open + i];
                }
            }
            _ => {}
        }
    }
    &rest[open..]
}

/// Every reason the non-test source can write, with a file that writes it.
fn reasons_in_code() -> BTreeMap<String, String> {
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    files.sort();
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            // Unit tests come last in each file; their made-up reasons are not the code's. (A
            // `mod tests;` declared at the top, as in sync/plan, cuts nothing.)
            let text = text.replace("#[cfg(test)]\nmod tests;", "");
            let text = text.split("#[cfg(test)]").next().unwrap().to_string();
            (f.strip_prefix(repo()).unwrap().display().to_string(), text)
        })
        .collect();
    let consts: BTreeMap<String, String> = {
        let re = Regex::new(r#"const (\w+): &str = "(\w+)";"#).unwrap();
        sources.iter().flat_map(|(_, t)| re.captures_iter(t).map(|c| (c[1].to_string(), c[2].to_string())).collect::<Vec<_>>()).collect()
    };
    // What precedes a reason: the verdict of a condition, an event, a refusal or gate.
    let positions = [
        r"Verdict::new\(\s*[\w:]+,\s*[^,()]+?,\s*",
        r"Verdict::unknown\(\s*[\w:]+,\s*",
        r"\bverdict\(\s*(?:true|false),\s*",
        r"publish\(\s*[^,]+,\s*EventType::\w+,\s*",
        r"\bevent\(\s*EventType::\w+,\s*",
        r"\breason:\s*",
    ];
    let literal = r#""([A-Z][A-Za-z0-9]+)""#;
    let constant = r"(?:\w+::)*([A-Z][A-Z0-9_]+)\b";
    let literals: Vec<Regex> = positions.iter().map(|p| Regex::new(&format!("{p}{literal}")).unwrap()).collect();
    let constants: Vec<Regex> = positions.iter().map(|p| Regex::new(&format!("{p}{constant}")).unwrap()).collect();
    // Functions and matches that map an error, a plan failure or a refusal to a reason.
    let mappers =
        Regex::new(r"fn \w*reason\w*\(|impl[^{\n]*\w+Reason\b[^{\n]*\{|let reason = match|fn as_str\(self\) -> &'static str").unwrap();
    let any_literal = Regex::new(literal).unwrap();
    let mut found = BTreeMap::new();
    for (file, text) in &sources {
        for re in &literals {
            for c in re.captures_iter(text) {
                found.entry(c[1].to_string()).or_insert_with(|| file.clone());
            }
        }
        for re in &constants {
            for c in re.captures_iter(text) {
                if let Some(value) = consts.get(&c[1]) {
                    found.entry(value.clone()).or_insert_with(|| file.clone());
                }
            }
        }
        for m in mappers.find_iter(text) {
            // `as_str` only of the reason enums (ConflictReason, RefusalReason).
            if m.as_str().starts_with("fn as_str") {
                let owner = text[..m.start()].rsplit("\nimpl ").next().unwrap_or("");
                if !owner.split_whitespace().next().unwrap_or("").ends_with("Reason") {
                    continue;
                }
            }
            for c in any_literal.captures_iter(block(text, m.end().saturating_sub(1))) {
                found.entry(c[1].to_string()).or_insert_with(|| file.clone());
            }
        }
    }
    found
}

/// The reasons docs/troubleshooting.md lists: the first cell of each table row, and those of
/// the "Reasons passed through" section (AWS's codes and ELB's instance states, which the code
/// copies rather than names).
fn reasons_in_page() -> (BTreeSet<String>, BTreeSet<String>) {
    let page = std::fs::read_to_string(repo().join("docs/troubleshooting.md")).unwrap();
    let row = Regex::new(r"(?m)^\| `([A-Za-z0-9]+)` \|").unwrap();
    let (own, passed) = page.split_once("## Reasons passed through").expect("the page has a section of passed-through reasons");
    let cells = |text: &str| row.captures_iter(text).map(|c| c[1].to_string()).collect::<BTreeSet<_>>();
    (cells(own), cells(passed))
}

#[test]
fn the_troubleshooting_page_lists_every_reason_the_code_writes_and_no_other() {
    let code = reasons_in_code();
    let (page, passed_through) = reasons_in_page();
    // The extraction sees the reasons of each kind of source: a verdict, a refusal enum, an
    // event, a constant, the error mapper.
    for sure in
        ["InstancesInService", "RegionNotAllowed", "Retained", "PortsClosed", "ServiceUnavailable", "AssumeRoleFailed", "NoInstance"]
    {
        assert!(code.contains_key(sure), "{sure} was not found in the code: is the extraction broken? found {:?}", code.keys());
    }
    assert!(code.len() >= 45, "only {} reasons found", code.len());

    let missing: Vec<String> = code.iter().filter(|(r, _)| !page.contains(*r)).map(|(r, f)| format!("{r} ({f})")).collect();
    assert!(missing.is_empty(), "reasons the code writes that docs/troubleshooting.md does not list:\n{}", missing.join("\n"));

    let stale: Vec<&String> = page.iter().filter(|r| !code.contains_key(*r) && !DOCUMENTED_AHEAD_OF_CODE.contains(&r.as_str())).collect();
    assert!(stale.is_empty(), "docs/troubleshooting.md lists reasons the code does not write: {stale:?}");

    let arrived: Vec<&&str> = DOCUMENTED_AHEAD_OF_CODE.iter().filter(|r| code.contains_key(**r)).collect();
    assert!(arrived.is_empty(), "the code now writes {arrived:?}: take them off DOCUMENTED_AHEAD_OF_CODE");
    for ahead in DOCUMENTED_AHEAD_OF_CODE {
        assert!(page.contains(*ahead), "{ahead} is expected ahead of the code but not documented");
    }

    // Passed-through reasons are not the operator's own words, so none may also be one of them
    // (it would be documented twice), and the section must not be empty.
    assert!(passed_through.len() >= 3, "{passed_through:?}");
    let both: Vec<&String> = passed_through.iter().filter(|r| page.contains(*r)).collect();
    assert!(both.is_empty(), "listed both as the operator's and as passed through: {both:?}");
}
