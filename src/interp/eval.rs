//! Evaluating expressions, rendering templates, running splits and responds for a [`Machine`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde_json::{Map, Value};

use super::rules::{self, Arg};
use super::value::{get, get_path, is_empty, push_text, text, to_number, truthy};
use super::{Event, Machine, Slot};
use crate::ast::{BinaryOp, Root, UnaryOp};
use crate::function::Function;
use crate::program::{BodyInstr, Ex, JsonTpl, Ref, RespondInstr, SplitInstr, TestInstr, Tpl, TplPart};
use crate::split_test::{ArgKind, SplitTest};

/// Compiled `has_pattern` regexes, shared by every run (the checker has validated them).
fn regex(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(re) = cache.get(pattern) {
        return Some(re.clone());
    }
    let re =
        regex::RegexBuilder::new(pattern).case_insensitive(true).multi_line(true).size_limit(1 << 20).build().ok()?;
    if cache.len() < 10_000 {
        cache.insert(pattern.to_string(), re.clone());
    }
    Some(re)
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Machine<'_> {
    /// Where this run reads and writes dates: the contact's zone (else the default), the flow's order,
    /// the clock.
    pub(super) fn calendar(&self) -> crate::dates::Calendar {
        let contact_zone = match self.state.contact.timezone.as_str() {
            "" => None,
            name => crate::dates::zone(name).ok(),
        };
        crate::dates::Calendar {
            zone: contact_zone.or_else(|| self.options.zone.clone()).unwrap_or(jiff::tz::TimeZone::UTC),
            order: self.flow.dates,
            now_ms: self.options.now_ms.unwrap_or_else(|| crate::time::now_millis() as i64),
        }
    }

    /// A date value read in `calendar`, or a warning that names `what` and the text.
    fn date_value(&mut self, v: &Value, calendar: &crate::dates::Calendar, what: &str) -> Option<crate::dates::When> {
        let t = text(v);
        let when = crate::dates::read(&t, calendar);
        if when.is_none() {
            self.warn(format!(
                "{what}: \"{t}\" is not a date (write 2026-11-23, or a date in the flow's `dates` order)"
            ));
        }
        when
    }

    pub(super) fn warn(&mut self, message: String) {
        if !self.events.iter().any(|e| matches!(e, Event::Warning { message: m } if *m == message)) {
            self.events.push(Event::Warning { message });
        }
    }

    /// Reports a dynamic key (`@extra`, `@trigger`) that the data does not have.
    fn missing(&mut self, r: &Ref) {
        if self.expecting_missing == 0 && r.root == Root::Input {
            // A flow a message trigger starts, started another way (`flowc run` without `--message`).
            self.warn("@input is empty: no message started this run and no reply has come yet".into());
            return;
        }
        if self.expecting_missing == 0
            && matches!(r.root, Root::Extra | Root::Trigger | Root::Child | Root::Parent)
            && !r.path.is_empty()
        {
            let name = format!("@{}.{}", r.root.as_str(), r.path.join("."));
            self.warn(format!("{name} is missing; it was rendered as empty text"));
        }
    }

    /// The value of a reference; `None` when it has none.
    fn find(&self, r: &Ref) -> Option<Cow<'_, Value>> {
        let found: Option<Cow<'_, Value>> = match r.root {
            Root::Flow => slot_path(self.state.slots.get(r.slot?)?.as_ref()?, &r.path),
            Root::Child => {
                let (name, rest) = r.path.split_first()?;
                slot_path(self.state.child.get(name)?, rest)
            }
            Root::Parent => {
                let (name, rest) = r.path.split_first()?;
                let frame = self.state.parents.last()?;
                let at = frame.slot_names.iter().position(|n| n == name)?;
                slot_path(frame.slots.get(at)?.as_ref()?, rest)
            }
            Root::Extra => match r.path.split_first() {
                None => Some(Cow::Owned(Value::Object(self.state.extra.clone()))),
                Some((k, rest)) => self.state.extra.get(k).and_then(|v| get_path(v, rest)).map(Cow::Borrowed),
            },
            Root::Contact => match r.path.split_first() {
                None => serde_json::to_value(&self.state.contact).ok().map(Cow::Owned),
                Some((k, rest)) if k == "fields" => match rest.split_first() {
                    None => Some(Cow::Owned(Value::Object(self.state.contact.fields.clone()))),
                    Some((f, rest)) => {
                        self.state.contact.fields.get(f).and_then(|v| get_path(v, rest)).map(Cow::Borrowed)
                    }
                },
                Some((k, _)) if k == "uuid" => Some(Cow::Owned(Value::String(self.state.contact.uuid()))),
                Some((k, rest)) if k == "groups" => {
                    let groups = Value::Array(self.state.contact.groups.iter().cloned().map(Value::String).collect());
                    match rest {
                        [] => Some(Cow::Owned(groups)),
                        more => get_path(&groups, more).cloned().map(Cow::Owned),
                    }
                }
                Some((k, _)) => self.state.contact.text_field(k).map(|t| Cow::Owned(Value::String(t.to_string()))),
            },
            Root::Trigger => self.state.trigger.as_ref().and_then(|t| get_path(t, &r.path)).map(Cow::Borrowed),
            Root::Input => self.state.input.as_ref().map(|i| Cow::Owned(Value::String(i.clone()))),
            Root::Webhook => {
                let meta = self.state.webhooks.get(r.slot?)?.as_ref()?;
                let v = match r.path.first().map(String::as_str) {
                    Some("status") => meta.status.map_or(Value::Null, Value::from),
                    Some("attempts") => Value::from(meta.attempts),
                    Some("elapsed_ms") => Value::from(meta.elapsed_ms),
                    Some("error") => meta.error.clone().map_or(Value::Null, Value::String),
                    Some("method") => Value::String(meta.method.clone()),
                    Some("url") => Value::String(meta.url.clone()),
                    _ => return None,
                };
                Some(Cow::Owned(v))
            }
        };
        found
    }

    /// Renders a template to text.
    pub(super) fn render(&mut self, tpl: &Tpl) -> String {
        self.render_with(tpl, false)
    }

    /// Renders a URL: interpolated values are percent-encoded, literal text is kept.
    pub(super) fn render_url(&mut self, tpl: &Tpl) -> String {
        self.render_with(tpl, true)
    }

    fn render_with(&mut self, tpl: &Tpl, encode: bool) -> String {
        let estimate: usize = tpl.0.iter().map(|p| if let TplPart::Text(t) = p { t.len() } else { 16 }).sum();
        let mut out = String::with_capacity(estimate);
        for part in &tpl.0 {
            match part {
                TplPart::Text(t) => out.push_str(t),
                // Contact text fields go straight into the output, without a JSON value in between.
                TplPart::Value(Ex::Ref(r))
                    if !encode
                        && r.root == Root::Contact
                        && r.path.len() == 1
                        && !["uuid", "groups"].contains(&r.path[0].as_str()) =>
                {
                    if let Some(t) = self.state.contact.text_field(&r.path[0]) {
                        out.push_str(t);
                    }
                }
                TplPart::Value(Ex::Ref(r)) if !encode => match self.find(r) {
                    Some(v) => push_text(&mut out, &v),
                    None => self.missing(r),
                },
                TplPart::Value(e) => {
                    let v = self.eval(e);
                    if encode {
                        out.push_str(&url_encode(&text(&v)));
                    } else {
                        push_text(&mut out, &v);
                    }
                }
            }
        }
        out
    }

    /// Evaluates an expression.
    pub(super) fn eval(&mut self, e: &Ex) -> Value {
        match e {
            Ex::Lit(v) => v.clone(),
            Ex::Tpl(t) => Value::String(self.render(t)),
            Ex::Ref(r) => match self.find(r) {
                Some(v) => v.into_owned(),
                None => {
                    self.missing(r);
                    Value::Null
                }
            },
            Ex::Field(base, key) => {
                let v = self.eval(base);
                get(&v, key).cloned().unwrap_or(Value::Null)
            }
            Ex::Index(base, idx) => {
                let v = self.eval(base);
                let i = self.eval(idx);
                let key = match &i {
                    Value::Number(n) => n.as_f64().map(|f| (f as i64).to_string()).unwrap_or_default(),
                    other => text(other),
                };
                match (&v, key.parse::<i64>()) {
                    (Value::Array(items), Ok(n)) if n < 0 => items
                        .len()
                        .checked_sub(n.unsigned_abs() as usize)
                        .and_then(|i| items.get(i))
                        .cloned()
                        .unwrap_or(Value::Null),
                    _ => get(&v, &key).cloned().unwrap_or(Value::Null),
                }
            }
            Ex::Unary(UnaryOp::Neg, inner) => {
                let v = self.eval(inner);
                to_number(&v, self.flow.decimal).map_or(Value::Null, |n| super::value::number(-n))
            }
            Ex::Unary(UnaryOp::Not, inner) => Value::Bool(!truthy(&self.eval(inner))),
            Ex::Binary(op, l, r) => self.binary(*op, l, r),
            Ex::Call(Function::Default, args) => {
                // `default(@extra.x, "fallback")` is how a flow says that x may be missing.
                self.expecting_missing += 1;
                let first = args.first().map(|a| self.eval(a));
                self.expecting_missing -= 1;
                let rest = args.iter().skip(1).map(|a| self.eval(a));
                let args: Vec<Value> = first.into_iter().chain(rest.collect::<Vec<_>>()).collect();
                self.call(Function::Default, args)
            }
            Ex::Call(Function::IsError, args) => {
                // Whether working the argument out made a function fail.
                let before = self.failed_calls;
                args.iter().for_each(|a| {
                    self.eval(a);
                });
                Value::Bool(self.failed_calls > before)
            }
            Ex::Call(f, args) => {
                let args: Vec<Value> = args.iter().map(|a| self.eval(a)).collect();
                self.call(*f, args)
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, l: &Ex, r: &Ex) -> Value {
        use BinaryOp::*;
        // `||` and `&&` do not evaluate their right side when the left decides.
        if op == Or || op == And {
            let left = truthy(&self.eval(l));
            if (op == Or && left) || (op == And && !left) {
                return Value::Bool(left);
            }
            return Value::Bool(truthy(&self.eval(r)));
        }
        let a = self.eval(l);
        let b = self.eval(r);
        let decimal = self.flow.decimal;
        let nums = || Some((to_number(&a, decimal)?, to_number(&b, decimal)?));
        match op {
            Eq | Ne => {
                let equal = match (&a, &b) {
                    (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
                    _ => text(&a) == text(&b),
                };
                Value::Bool(equal == (op == Eq))
            }
            Lt | Le | Gt | Ge => Value::Bool(nums().is_some_and(|(x, y)| match op {
                Lt => x < y,
                Le => x <= y,
                Gt => x > y,
                _ => x >= y,
            })),
            Concat => {
                let mut s = text(&a);
                push_text(&mut s, &b);
                Value::String(s)
            }
            _ => match nums() {
                Some((x, y)) => {
                    let n = match op {
                        Add => x + y,
                        Sub => x - y,
                        Mul => x * y,
                        _ if y == 0.0 => {
                            self.warn("division by zero; the result is empty".into());
                            return Value::Null;
                        }
                        _ => x / y,
                    };
                    super::value::number(n)
                }
                None => {
                    self.warn(format!("`{}` needs numbers, got \"{}\" and \"{}\"", op.as_str(), text(&a), text(&b)));
                    Value::Null
                }
            },
        }
    }

    fn call(&mut self, f: Function, mut args: Vec<Value>) -> Value {
        let arg = |args: &[Value], i: usize| args.get(i).cloned().unwrap_or(Value::Null);
        let decimal = self.flow.decimal;
        match f {
            // A letter whose other case is more than one letter (`ß`) stays as it is, as in goflow.
            Function::Upper => Value::String(one_to_one(&text(&arg(&args, 0)), char::to_uppercase)),
            Function::Lower => Value::String(one_to_one(&text(&arg(&args, 0)), char::to_lowercase)),
            Function::Trim => {
                let t = text(&arg(&args, 0));
                match args.get(1).map(text) {
                    Some(chars) => Value::String(t.trim_matches(|c| chars.contains(c)).to_string()),
                    None => Value::String(t.trim().to_string()),
                }
            }
            Function::Length => Value::from(match arg(&args, 0) {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::Null => 0,
                other => text(&other).chars().count(),
            }),
            Function::Default => {
                let fallback = args.pop().unwrap_or(Value::Null);
                let x = args.pop().unwrap_or(Value::Null);
                if is_empty(&x) { fallback } else { x }
            }
            Function::Number => to_number(&arg(&args, 0), decimal).map_or(Value::Null, super::value::number),
            Function::Text => Value::String(text(&arg(&args, 0))),
            Function::FormatNumber => {
                let Some(n) = to_number(&arg(&args, 0), decimal) else {
                    return Value::Null;
                };
                let places = to_number(&arg(&args, 1), '.').unwrap_or(2.0).clamp(0.0, 10.0) as usize;
                Value::String(format_number(n, places, decimal))
            }
            Function::Round => {
                let Some(n) = to_number(&arg(&args, 0), decimal) else {
                    return Value::Null;
                };
                // Negative places round to tens, hundreds, ...
                let places = to_number(&arg(&args, 1), '.').unwrap_or(0.0).clamp(-15.0, 10.0) as i32;
                let factor = 10f64.powi(places);
                super::value::number((n * factor).round() / factor)
            }
            Function::Now => Value::String(crate::dates::moment_iso(&self.calendar().now())),
            Function::Today => Value::String(crate::dates::date_iso(self.calendar().today())),
            Function::DatetimeAdd => {
                let calendar = self.calendar();
                let Some(when) = self.date_value(&arg(&args, 0), &calendar, "datetime_add") else {
                    return Value::Null;
                };
                let n = to_number(&arg(&args, 1), '.').filter(|n| n.fract() == 0.0 && n.abs() < 1e9);
                let Some(n) = n else {
                    self.warn(format!("datetime_add: \"{}\" is not a whole number", text(&arg(&args, 1))));
                    return Value::Null;
                };
                match crate::dates::add(&when, n as i64, &text(&arg(&args, 2)), &calendar.zone) {
                    Ok(w) => Value::String(w.iso()),
                    Err(e) => {
                        self.warn(format!("datetime_add: {e}"));
                        Value::Null
                    }
                }
            }
            Function::FormatDate => {
                let calendar = self.calendar();
                let Some(when) = self.date_value(&arg(&args, 0), &calendar, "format_date") else {
                    return Value::Null;
                };
                let format = match (arg(&args, 1), &when) {
                    (Value::Null, crate::dates::When::Date(_)) => "YYYY-MM-DD".to_string(),
                    (Value::Null, crate::dates::When::Moment(_)) => "YYYY-MM-DD tt:mm".to_string(),
                    (other, _) => text(&other),
                };
                // No zone, or an empty one (a contact without `timezone`): the contact's.
                let zone = match text(&arg(&args, 2)) {
                    name if name.trim().is_empty() => Ok(calendar.zone.clone()),
                    name => crate::dates::zone(&name),
                };
                match zone.and_then(|z| crate::dates::format(&when, &format, &calendar.zone, &z)) {
                    Ok(s) => Value::String(s),
                    Err(e) => {
                        self.warn(format!("format_date: {e}"));
                        Value::String(when.iso())
                    }
                }
            }
            Function::Weekday => {
                let calendar = self.calendar();
                match self.date_value(&arg(&args, 0), &calendar, "weekday") {
                    Some(when) => Value::from(crate::dates::weekday(&when)),
                    None => Value::Null,
                }
            }
            Function::UrlEncode => Value::String(url_encode(&text(&arg(&args, 0)))),
            Function::VisitCount => {
                // The step this instruction is in: the last that starts at or before it.
                let starts = &self.flow.step_starts;
                let step = match starts.binary_search(&self.state.pc) {
                    Ok(i) => Some(starts[i]),
                    Err(0) => None,
                    Err(i) => Some(starts[i - 1]),
                };
                Value::from(step.and_then(|s| self.state.visits.get(&s)).copied().unwrap_or(1))
            }
            Function::Json => Value::String(arg(&args, 0).to_string()),
            // RapidPro's library: a call that fails is a warning and an empty value.
            f => match super::library::call(f, &args, decimal, &self.calendar()) {
                Ok(v) => v,
                Err(e) => {
                    self.failed_calls += 1;
                    self.warn(format!("{}: {e}", f.name()));
                    Value::Null
                }
            },
        }
    }

    /// Runs a split: the target and, when a case matched or none did, the result to save.
    pub(super) fn split(&mut self, split: &SplitInstr) -> (usize, Option<Slot>) {
        let operand_value = self.eval(&split.operand);
        let operand = text(&operand_value);
        let decimal = self.flow.decimal;
        for case in &split.cases {
            let matched = match &case.test {
                TestInstr::Compare { op, value } => {
                    let v = self.eval(value);
                    match op {
                        BinaryOp::Eq => {
                            (operand == text(&v)).then(|| rules::Match { value: operand.clone(), groups: vec![] })
                        }
                        BinaryOp::Ne => {
                            (operand != text(&v)).then(|| rules::Match { value: operand.clone(), groups: vec![] })
                        }
                        _ => {
                            let (Some(x), Some(y)) =
                                (super::numbers::first_number(&operand, decimal), to_number(&v, decimal))
                            else {
                                continue;
                            };
                            let ok = match op {
                                BinaryOp::Lt => x < y,
                                BinaryOp::Le => x <= y,
                                BinaryOp::Gt => x > y,
                                _ => x >= y,
                            };
                            let mut s = String::new();
                            super::value::push_number(&mut s, x);
                            ok.then(|| rules::Match { value: s, groups: vec![] })
                        }
                    }
                }
                TestInstr::Named { test, args } => self.named_test(*test, args, &operand),
            };
            if let Some(m) = matched {
                let extra = (!m.groups.is_empty())
                    .then(|| Value::Object(m.groups.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
                let slot = Slot { value: Value::String(m.value), category: Some(case.category.clone()), extra };
                return (case.target, Some(slot));
            }
        }
        (split.other, Some(Slot { value: Value::String(operand), category: Some("Other".into()), extra: None }))
    }

    fn named_test(&mut self, test: SplitTest, args: &[Ex], operand: &str) -> Option<rules::Match> {
        let values: Vec<Value> = args.iter().map(|a| self.eval(a)).collect();
        let texts: Vec<String> = values.iter().map(text).collect();
        let mut regexes = Vec::new();
        for (kind, t) in test.args().iter().zip(&texts) {
            if *kind == ArgKind::Regex {
                match regex(t) {
                    Some(re) => regexes.push(re),
                    None => {
                        self.warn(format!("invalid regular expression \"{t}\"; the case does not match"));
                        return None;
                    }
                }
            }
        }
        // Only the date tests read the calendar (the clock, the contact's zone).
        let calendar = if test.reads_dates() {
            self.calendar()
        } else {
            crate::dates::Calendar { zone: jiff::tz::TimeZone::UTC, order: self.flow.dates, now_ms: 0 }
        };
        let mut dates = Vec::new();
        for (kind, v) in test.args().iter().zip(&values) {
            if *kind == ArgKind::Date {
                dates.push(self.date_value(v, &calendar, test.name())?.date());
            }
        }
        let mut dates = dates.into_iter();
        let mut regexes = regexes.iter();
        let args: Vec<Arg<'_>> = test
            .args()
            .iter()
            .zip(values.iter().zip(&texts))
            .map(|(kind, (v, t))| match kind {
                ArgKind::Text => Arg::Text(t),
                ArgKind::Number => Arg::Number(to_number(v, '.').unwrap_or(f64::NAN)),
                ArgKind::Regex => regexes.next().map_or(Arg::Text(t), Arg::Regex),
                ArgKind::Date => dates.next().map_or(Arg::Text(t), Arg::Date),
            })
            .collect();
        rules::run(test, operand, &args, self.flow.decimal, &calendar)
    }

    /// Builds a JSON literal.
    pub(super) fn json(&mut self, j: &JsonTpl) -> Value {
        match j {
            JsonTpl::Object(members) => {
                let mut map = Map::new();
                for (k, v) in members {
                    let v = self.json(v);
                    map.insert(k.clone(), v);
                }
                Value::Object(map)
            }
            JsonTpl::Array(items) => Value::Array(items.iter().map(|i| self.json(i)).collect()),
            JsonTpl::Value(e) => self.eval(e),
        }
    }

    /// A body and its default content type.
    pub(super) fn body(&mut self, body: &BodyInstr) -> Option<(String, &'static str)> {
        Some(match body {
            BodyInstr::None => return None,
            BodyInstr::Default => (self.default_body().to_string(), "application/json"),
            BodyInstr::Json(j) => (self.json(j).to_string(), "application/json"),
            BodyInstr::Xml(t) => (self.render(t), "application/xml"),
            BodyInstr::Text(t) => (self.render(t), "text/plain; charset=utf-8"),
            BodyInstr::Form(fields) => {
                let mut pairs = Vec::new();
                for (k, v) in fields {
                    let v = self.eval(v);
                    pairs.push(format!("{}={}", url_encode(k), url_encode(&text(&v))));
                }
                (pairs.join("&"), "application/x-www-form-urlencoded")
            }
        })
    }

    /// Every variable collected so far (docs/language.md §6).
    pub(super) fn default_body(&self) -> Value {
        let mut results = Map::new();
        for (name, slot) in self.flow.slots.iter().zip(&self.state.slots) {
            if let Some(slot) = slot {
                let category = slot.category.clone().map_or(Value::Null, Value::String);
                results.insert(name.clone(), serde_json::json!({ "value": slot.value, "category": category }));
            }
        }
        serde_json::json!({
            "contact": self.state.contact,
            "flow": { "name": self.flow.name },
            "run": { "id": self.state.run_id },
            "results": results,
            "input": self.state.input,
        })
    }

    pub(super) fn respond(&mut self, r: &RespondInstr) {
        let status = self.eval(&r.status);
        let status = match to_number(&status, '.') {
            Some(n) if (200.0..=599.0).contains(&n) && n.fract() == 0.0 => n as u16,
            _ => {
                self.warn(format!(
                    "respond status \"{}\" is not a number from 200 to 599; answered 500",
                    text(&status)
                ));
                500
            }
        };
        // What the answer carries is what the event says: a value that cannot be sent as a header
        // (a line break would split the answer; HTTP header values are ASCII) is left out, with a warning.
        let mut headers: Vec<(String, String)> = Vec::new();
        for (k, v) in &r.headers {
            let v = text(&self.eval(v));
            if crate::net::header_ok(k, &v) {
                headers.push((k.clone(), v));
            } else {
                let why =
                    if v.contains(['\r', '\n']) { "a line break" } else { "a character HTTP headers cannot carry" };
                self.warn(format!("the {k} header was not sent: its value holds {why}"));
            }
        }
        let (body, content_type) = match self.body(&r.body) {
            Some(_) if status == 204 => {
                self.warn("a 204 answer has no body; the body was dropped".into());
                (None, None)
            }
            Some((b, ct)) => (Some(b), Some(ct.to_string())),
            None => (None, None),
        };
        self.state.responded = true;
        self.events.push(Event::Responded { status, headers, body, content_type });
    }
}

/// `t` with `case` applied to each character that maps to exactly one character.
fn one_to_one<I: Iterator<Item = char>>(t: &str, case: fn(char) -> I) -> String {
    t.chars()
        .map(|c| {
            let mut mapped = case(c);
            match (mapped.next(), mapped.next()) {
                (Some(m), None) => m,
                _ => c,
            }
        })
        .collect()
}

fn format_number(n: f64, places: usize, decimal: char) -> String {
    // Half away from zero, as people round (format! rounds half to even).
    let factor = 10f64.powi(places as i32);
    let s = format!("{:.*}", places, (n.abs() * factor).round() / factor);
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let group = if decimal == ',' { '.' } else { ',' };
    let mut out = String::new();
    if n < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(decimal);
        out.push_str(frac);
    }
    out
}

/// A path into a saved result: `category`, `value`, a split's `extra`, or keys of its value.
fn slot_path<'s>(slot: &'s super::Slot, path: &[String]) -> Option<Cow<'s, Value>> {
    match path.split_first() {
        None => Some(Cow::Borrowed(&slot.value)),
        Some((k, rest)) if k == "category" && rest.is_empty() => {
            slot.category.as_ref().map(|c| Cow::Owned(Value::String(c.clone())))
        }
        Some((k, rest)) if k == "value" && rest.is_empty() => Some(Cow::Borrowed(&slot.value)),
        Some((k, rest)) if k == "extra" && slot.extra.is_some() => {
            slot.extra.as_ref().and_then(|e| get_path(e, rest)).map(Cow::Borrowed)
        }
        Some(_) => get_path(&slot.value, path).map(Cow::Borrowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_with_groups() {
        assert_eq!(format_number(1234567.891, 2, '.'), "1,234,567.89");
        assert_eq!(format_number(-1234.5, 0, '.'), "-1,235");
        assert_eq!(format_number(1234.5, 1, ','), "1.234,5");
        assert_eq!(format_number(0.004, 2, '.'), "0.00");
    }

    #[test]
    fn urls_are_encoded() {
        assert_eq!(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
