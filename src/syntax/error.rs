//! pest errors → diagnostics in words a user knows. pest reports rule names at the furthest position it
//! reached; this module names them for humans ("a statement such as `send` or `wait`"), says what was
//! found instead, and uses the scanner to point at the real cause when it lies elsewhere (an
//! unterminated string, a missing `}`, nesting past the limit).

use std::collections::BTreeSet;

use pest::Parser;
use pest::error::{Error, ErrorVariant, InputLocation};
use pest::set_error_detail;

use super::scan::Findings;
use super::{FlowParser, MAX_DEPTH, Rule};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Span;

const ITEM: &str = "`flow`, `connector`, `trigger` or `channel`";
const STATEMENT: &str = "a statement such as `send`, `wait`, `webhook`, `split`, `set`, `goto` or `stop`";
const CHANNEL_LINE: &str = "`receive` or `send`";
const TRIGGER_KIND: &str = "`webhook`, `keyword` or `catchall`";
const VALUE: &str = "a value such as \"text\", a number or `@flow.name`";

fn rule_phrase(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        send_stmt | wait_stmt | webhook_stmt | split_stmt | set_stmt | step_stmt | goto_stmt | email_stmt
        | respond_stmt | stop_stmt | enter_stmt | numbers_stmt | dates_stmt => STATEMENT,
        flow_def | connector_def | trigger_def | message_trigger_def | channel_def => ITEM,
        channel_receive | channel_send => CHANNEL_LINE,
        channel_external | channel_telegram | channel_twilio => "a channel kind: `external`, `telegram` or `twilio`",
        keyword_words | kw_catchall => TRIGGER_KIND,
        start_for => "`for`",
        trigger_channel => "`channel`",
        channel_block => "`{`",
        ident => "a name",
        segment => "a key after the `.` (a name or a number, as in `@contact.fields.age`)",
        string | plain_string => "a string in double quotes",
        expr | operand | number | reference | call | group | at_group | env_ref | kw_true | kw_false | kw_null
        | simple_operand | signed_number | operand_simple | prefix => VALUE,
        infix | compare_op => "an operator",
        duration => "a duration such as `10s`",
        method => "an HTTP method such as `POST`",
        shape_object | shape_list | shape_name => "a type such as `text`, `number` or `{ key: text }`",
        json_object | json_array => "a JSON value",
        opt_header | opt_query | opt_auth | opt_body | opt_timeout | opt_retries | opt_backoff | opt_expect
        | opt_on_failure => "a webhook option such as `header`, `body`, `timeout`, `retries` or `on failure`",
        case_clause => "`case`",
        other_clause => "`other`",
        test | compare_test | named_test => "a test such as `has_text` or `== \"yes\"`",
        category => "`as`",
        on_timeout => "`on timeout`",
        on_expired => "`on expired`",
        expect_header | expect_query | expect_body | start_stmt => "`expect` or `start`",
        trigger_auth => "`auth`",
        auth_basic | auth_bearer | auth_api_key => "`basic`, `bearer` or `api_key`",
        status_code | respond_status => "a status code such as `200`, or `status EXPR`",
        respond_body => "`body`",
        body_json | body_xml | body_text | body_form => "a body format: `json`, `xml`, `text` or `form`",
        json_member | shape_field | form_field => "a key",
        block | wait_block | enter_block | webhook_block | split_block | trigger_block | respond_block => "`{`",
        EOI => "the end of the file",
        kw_flow => "`flow`",
        kw_methods => "`methods`",
        kw_timeout => "`timeout`",
        kw_expired => "`expired`",
        kw_failure => "`failure`",
        kw_decimal => "`decimal`",
        kw_subject => "`subject`",
        kw_body => "`body`",
        kw_json => "`json`",
        kw_header | kw_query => "`header` or `query`",
        kw_signature => "`signature`",
        kw_env => "`env`",
        _ => return None,
    })
}

use super::keywords::STATEMENTS as STATEMENT_KEYWORDS;

fn token_phrase(token: &str) -> Option<String> {
    Some(match token {
        "\n" | "\r\n" | ";" => "the end of the statement (a newline or `;`)".to_string(),
        "\"" => "a string in double quotes".to_string(),
        "==" | "!=" | "<" | "<=" | ">" | ">=" | "||" | "&&" | "&" | "+" | "*" | "/" => "an operator".to_string(),
        "-" | "!" | "@" | "(" | "." | "+." => VALUE.to_string(),
        t if super::keywords::ITEMS.contains(&t) => ITEM.to_string(),
        t if STATEMENT_KEYWORDS.contains(&t) => STATEMENT.to_string(),
        t if t.chars().count() == 1 && (t.chars().all(char::is_alphanumeric) || t == "_") => {
            return None;
        }
        "//" | " " | "\t" | "[" | "u{" | "" => return None,
        t => format!("`{t}`"),
    })
}

/// What stands at `pos`: a word, a character, a line break, or the end.
fn found_at(text: &str, pos: usize) -> String {
    let rest = &text[pos.min(text.len())..];
    let Some(c) = rest.chars().next() else {
        return "the end of the file".into();
    };
    if c == '\n' || c == '\r' {
        return "the end of the line".into();
    }
    if c.is_alphanumeric() || c == '_' {
        let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').take(40).collect();
        return format!("`{word}`");
    }
    if c == '"' {
        return "a string".into();
    }
    format!("`{c}`")
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => "something else".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// Nesting past the limit at byte `at` of the file.
pub(super) fn too_deep(at: usize) -> Diagnostic {
    Diagnostic::new(
        Code::TooDeep,
        Span::new(at, at + 1),
        format!("nesting deeper than {MAX_DEPTH} levels"),
        "this is one level too deep",
    )
    .with_help("split the logic into steps, or flatten the expression with `set`")
}

/// A carriage return alone at `at`.
pub(super) fn lone_cr(at: usize) -> Diagnostic {
    Diagnostic::new(
        Code::Unexpected,
        Span::new(at, at + 1),
        "this line ends with a carriage return alone (CR), which is not a line break in a .flow file",
        "CR without LF",
    )
    .with_help("save the file with LF or CRLF line endings (editors call them \"Unix\" and \"Windows\")")
}

/// The item `text` at `offset` took the parser past its work limit (see `call_limit`).
pub(super) fn too_complex(offset: usize, text: &str) -> Diagnostic {
    let start = text.len() - text.trim_start().len();
    let line = text[start..].find('\n').map_or(text.len(), |e| start + e);
    Diagnostic::new(
        Code::TooDeep,
        Span::new(offset + start, offset + line),
        "this item is too complex for the parser: it stopped before reading all of it",
        "in this item",
    )
    .with_help("look for brackets, strings or blocks left open; split the item into smaller flows or steps")
}

/// A block of the chunk at `offset` that runs to the chunk's end at `end` (in the file) without its `}`:
/// reported at the `{` the scanner thinks lost it.
pub(super) fn unclosed(findings: &Findings, offset: usize, open: usize, end: usize) -> Diagnostic {
    let open = findings.unclosed.map_or(open, |o| offset + o);
    Diagnostic::new(Code::UnclosedBlock, Span::new(open, open + 1), "this `{` is never closed", "block opened here")
        .with_label(Span::at(findings.close_before.map_or(end, |c| offset + c)), "expected `}` before this point")
        .with_help("add the missing `}`; a block closes at the indentation it was opened at")
}

/// Converts a pest error on the chunk `text` that starts at `offset` in the file.
/// Explains why `text` (at `offset` in the file) does not parse as `rule`: a `bad` node that the
/// grammar skipped to recover, parsed alone for its message.
pub(super) fn explain_bad(text: &str, offset: usize, rule: Rule) -> Diagnostic {
    let findings = super::scan::scan(text);
    if let Some(at) = findings.too_deep {
        return too_deep(offset + at);
    }
    match FlowParser::parse(rule, text) {
        Err(err) => convert(err, text, offset, &findings, rule),
        Ok(pairs) if pairs.clone().flatten().any(|p| p.as_rule() == Rule::unclosed) => {
            let open = text.rfind('{').map_or(offset, |o| offset + o);
            unclosed(&findings, offset, open, offset + text.len())
        }
        // Parsed alone it is fine: what is wrong is where it stands.
        Ok(_) => Diagnostic::new(
            Code::Unexpected,
            Span::new(offset, offset + text.len()),
            "this does not belong here",
            "not allowed in this block",
        ),
    }
}

/// Converts a pest error for `rule` on `text`, which starts at `offset` in the file.
pub(super) fn convert(err: Error<Rule>, text: &str, offset: usize, findings: &Findings, rule: Rule) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let at = offset + pos;
    let end_of_line = text[pos.min(text.len())..].find('\n').map_or(text.len(), |i| pos + i);

    if let Some(start) = findings.unterminated_string.filter(|&s| s <= pos) {
        let line_end = text[start..].find(['\n', '\r']).map_or(text.len(), |i| start + i);
        return Diagnostic::new(
            Code::UnterminatedString,
            Span::new(offset + start, offset + line_end),
            "this string has no closing quote",
            "string starts here and runs to the end of the line",
        )
        .with_help("close it with `\"` on the same line; write `\\n` for a line break inside a string");
    }

    let (mut expected, found_unexpected_end) = expectations(&err, text, rule);
    let mut found = found_at(text, pos);
    if rule != Rule::chunk {
        // A statement, clause or option parsed alone: its end is the end of the statement.
        for e in expected.iter_mut().chain(std::iter::once(&mut found)) {
            if e == "the end of the file" {
                *e = "the end of the statement".into();
            }
        }
        expected.dedup();
        if found == "the end of the statement" && text.trim_end().ends_with('.') {
            let at = offset + text.trim_end().len() - 1;
            return Diagnostic::new(
                Code::Unexpected,
                Span::new(at, at + 1),
                "a reference cannot end with `.`",
                "a key is missing here",
            )
            .with_help("write the key after the `.` (`@flow.name`), or remove the `.`");
        }
    }
    let only_space_left =
        text[pos.min(text.len())..].lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with("//"));
    if (expected.iter().any(|e| e == "`}`") || only_space_left || found_unexpected_end)
        && let Some(open) = findings.unclosed
        && (only_space_left || open < pos)
    {
        let d = Diagnostic::new(
            Code::UnclosedBlock,
            Span::new(offset + open, offset + open + 1),
            "this `{` is never closed",
            "block opened here",
        )
        .with_label(Span::at(findings.close_before.map_or(at, |c| offset + c)), "expected `}` before this point")
        .with_help("add the missing `}`; a block closes at the indentation it was opened at");
        return d;
    }

    let word = found.trim_matches('`');
    let item_expected = expected.iter().any(|e| e == ITEM);
    let in_flow = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with("//"))
        .is_some_and(|l| l.starts_with("flow"));
    if item_expected && in_flow && STATEMENT_KEYWORDS.contains(&word) {
        // A statement after the item's end: the `}` before it closed the item too early (a stray `}`).
        if let Some(brace) = text[..pos].rfind('}') {
            return Diagnostic::new(
                Code::Unexpected,
                Span::new(offset + brace, offset + brace + 1),
                format!("this `}}` ends the item, but a `{word}` statement follows it"),
                "the item ends here",
            )
            .with_label(Span::new(at, at + word.len()), "outside any flow")
            .with_help(
                "remove this `}` (or add the `{` it was meant to close), so the statements stay inside the flow",
            );
        }
    }
    if item_expected && found == "`}`" {
        return Diagnostic::new(
            Code::Unexpected,
            Span::new(at, at + 1),
            "this `}` closes nothing: the item before it has already ended",
            "no `{` to close",
        )
        .with_help("remove it; if a block above ends too early, look for a `}` too many there");
    }
    let clause =
        did_you_mean(word, ["case", "other"]).filter(|_| rule == Rule::clause_alone || in_split_block(text, pos));
    if expected.is_empty() && clause.is_some() {
        expected = vec!["`case`".into(), "`other`".into(), "`}`".into()];
    }
    let message = format!("expected {}, found {}", join_or(&expected), found);
    let help = if found == "`=`" {
        Some("compare with `==`; a single `=` only assigns in `set NAME = ...` and `split NAME = ...`".to_string())
    } else if let Some(kw) = clause {
        Some(format!("did you mean `{kw}`? A split holds `case TEST {{ ... }}` clauses and one `other {{ ... }}`"))
    } else if word == "else" || word == "default" {
        Some("a split's fallback branch is written `other { ... }`".to_string())
    } else if word == "if" || word == "switch" || word == "match" {
        Some("route with `split EXPR { case TEST { ... } other { ... } }`".to_string())
    } else if found == "the end of the line" && expected.iter().any(|e| e == "`{`") {
        Some("a block's `{` goes on the same line as its header".to_string())
    } else if let Some(kw) = expected
        .iter()
        .any(|e| e == STATEMENT)
        .then(|| crate::diagnostic::did_you_mean(word, STATEMENT_KEYWORDS.iter().copied()))
        .flatten()
    {
        Some(format!("did you mean `{kw}`?"))
    } else if expected.iter().any(|e| e == STATEMENT) {
        Some(
            "each statement starts with its keyword: send, wait, webhook, split, set, step, goto, email, respond, stop"
                .to_string(),
        )
    } else if found == "the end of the file" {
        Some("the file ends in the middle of an item".to_string())
    } else if found == "the end of the statement" {
        Some("the statement ends before it is complete".to_string())
    } else {
        None
    };
    let len = if found.starts_with('`') { found.len() - 2 } else { 0 };
    let span = Span::new(at, (at + len).min(offset + end_of_line.max(pos)));
    let label = if found.starts_with('`') { format!("unexpected {found}") } else { found.clone() };
    let mut d = Diagnostic::new(Code::Unexpected, span, message, label);
    d.help = help;
    d
}

/// Whether `pos` is directly inside a split's block: the innermost `{` open before it belongs to a line
/// that starts with `split` (braces inside strings are skipped).
fn in_split_block(text: &str, pos: usize) -> bool {
    let mut opens: Vec<usize> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in text.as_bytes()[..pos.min(text.len())].iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'\n' => in_string = false,
            b'{' if !in_string => opens.push(i),
            b'}' if !in_string => {
                opens.pop();
            }
            _ => {}
        }
    }
    opens.last().is_some_and(|&open| {
        let line_start = text[..open].rfind('\n').map_or(0, |i| i + 1);
        text[line_start..open].trim_start().starts_with("split")
    })
}

/// Human phrases for what the parser expected, from the rules (and with error detail, literal tokens).
fn expectations(err: &Error<Rule>, text: &str, rule: Rule) -> (Vec<String>, bool) {
    let mut set: BTreeSet<String> = BTreeSet::new();
    let mut positives: Vec<Rule> = Vec::new();
    if let ErrorVariant::ParsingError { positives: p, .. } = &err.variant {
        positives = p.clone();
    }
    // Re-parse with detail to learn the literal tokens (`{`, `=`, ...) the parser tried.
    // pest's detail switch is global and read when a parse starts: hold a lock for the whole detailed
    // parse so that another thread cannot switch it off meanwhile. Only failed items get here.
    static DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let detailed = {
        let _guard = DETAIL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        set_error_detail(true);
        let detailed = FlowParser::parse(rule, text).err();
        set_error_detail(false);
        detailed
    };
    let mut eoi = false;
    if let Some(attempts) = detailed.as_ref().and_then(|e| e.parse_attempts()) {
        for token in attempts.expected_tokens() {
            let token = token.to_string();
            if token.contains("..") || token == "BUILTIN_RULE" {
                continue;
            }
            if let Some(p) = token_phrase(&token) {
                set.insert(p);
            }
        }
        for stack in attempts.call_stacks() {
            if let Some(rule) = stack.parent.or(stack.deepest.get_rule().copied()) {
                positives.push(rule);
            }
        }
    }
    for rule in positives {
        if rule == Rule::EOI {
            eoi = true;
        }
        if let Some(p) = rule_phrase(rule) {
            set.insert(p.to_string());
        }
    }
    // `webhook` and `send` are statement words, but after `trigger` and in a channel's block they are
    // the kind of trigger and a channel line.
    let replaced: Option<(&[&str], &str)> = if rule == Rule::channel_alone && set.contains(STATEMENT) {
        Some((&["receive", "send"], CHANNEL_LINE))
    } else if set.contains("`catchall`") || set.contains(TRIGGER_KIND) {
        Some((&["webhook", "keyword", "catchall"], TRIGGER_KIND))
    } else {
        None
    };
    if let Some((words, phrase)) = replaced {
        set.remove(STATEMENT);
        for w in words {
            set.remove(&format!("`{w}`"));
        }
        set.insert(phrase.to_string());
    }
    // Operators are always possible after a complete value; mention them only when nothing else fits.
    if set.len() > 1 {
        set.remove("an operator");
    }
    if set.contains(STATEMENT) {
        set.remove("the end of the statement (a newline or `;`)");
    }
    if set.contains(ITEM) {
        set.remove("`flow`");
    }
    let mut list: Vec<String> = set.into_iter().collect();
    // Statements first, then values, then the rest: the most useful expectation leads.
    list.sort_by_key(|s| (s != STATEMENT, s != VALUE, s.clone()));
    (list, eoi)
}
