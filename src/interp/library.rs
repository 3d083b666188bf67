//! The functions that came with RapidPro's Excellent library (docs/language.md §2.9): text, numbers,
//! logic, JSON and URNs, with goflow's semantics (its test vectors are
//! `tests/conformance/goflow_functions.jsonl`). A call that cannot do its job is an `Err` with the
//! reason; the run shows it as a warning and the value is empty, and `is_error` sees it.

use serde_json::{Map, Value};

use super::value::{number, text, truthy};
use crate::function::Function;

/// Runs `f` on `args`; `decimal` is the flow's decimal separator for numbers written as text.
pub fn call(f: Function, args: &[Value], decimal: char, cal: &crate::dates::Calendar) -> Result<Value, String> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let num = |i: usize| -> Result<f64, String> {
        let v = arg(i);
        match &v {
            Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_string()),
            Value::String(s) => {
                let t = s.trim();
                let t = if decimal == ',' { t.replace(',', ".") } else { t.to_string() };
                t.parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(|| format!("\"{s}\" is not a number"))
            }
            _ => Err(format!("{} is not a number", describe(&v))),
        }
    };
    let int = |i: usize| -> Result<i64, String> {
        let n = num(i)?;
        if n.abs() > 1e15 { Err(format!("{n} is too large")) } else { Ok(n.trunc() as i64) }
    };
    let s = |i: usize| text(&arg(i));
    Ok(match f {
        Function::Title => Value::String(title(&s(0))),
        Function::Word => {
            let t = s(0);
            let words = words(&t, args.get(2));
            let n = int(1)?;
            let i = if n < 0 { words.len() as i64 + n } else { n };
            let word = usize::try_from(i).ok().and_then(|i| words.get(i));
            Value::String(word.ok_or_else(|| format!("there is no word {n}"))?.to_string())
        }
        Function::WordCount => Value::from(words(&s(0), args.get(1)).len()),
        Function::WordSlice => {
            let t = s(0);
            let words = words(&t, args.get(3));
            let len = words.len() as i64;
            let start = int(1)?;
            // A negative end counts back from the end: -1 is the last word, included.
            let end = match args.get(2).filter(|e| !e.is_null()) {
                Some(_) => {
                    let e = int(2)?;
                    if e < 0 { len + e + 1 } else { e }
                }
                None => len,
            };
            if start < 0 || (args.get(2).is_some_and(|e| !e.is_null()) && end < start) {
                return Err(format!("cannot take the words from {start} to {end}"));
            }
            let (start, end) = (start.min(len) as usize, end.clamp(0, len) as usize);
            Value::String(if start < end { words[start..end].join(" ") } else { String::new() })
        }
        Function::RemoveFirstWord => {
            let t = s(0);
            let words = super::rules::words(&t);
            match words.first() {
                // The text after the first word, from the second on.
                Some(first) => {
                    let after = first.as_ptr() as usize - t.as_ptr() as usize + first.len();
                    let rest = &t[after..];
                    match words.get(1) {
                        Some(second) => Value::String(t[second.as_ptr() as usize - t.as_ptr() as usize..].to_string()),
                        None => Value::String(rest.trim_start_matches(|c: char| !c.is_alphanumeric()).to_string()),
                    }
                }
                None => Value::String(String::new()),
            }
        }
        Function::Replace => {
            let (t, needle, with) = (s(0), s(1), s(2));
            let count = if args.len() > 3 { int(3)? } else { -1 };
            if count == 0 {
                Value::String(t)
            } else if needle.is_empty() {
                // Nothing is found before, between and after every character.
                let mut out = with.clone();
                for c in t.chars() {
                    out.push(c);
                    out.push_str(&with);
                }
                Value::String(out)
            } else if count < 0 {
                Value::String(t.replace(&needle, &with))
            } else {
                Value::String(t.replacen(&needle, &with, count as usize))
            }
        }
        Function::TextSlice => {
            let chars: Vec<char> = s(0).chars().collect();
            let len = chars.len() as i64;
            let at = |n: i64| if n < 0 { (len + n).max(0) } else { n.min(len) } as usize;
            let start = at(int(1)?);
            let end = if args.len() > 2 { at(int(2)?) } else { len as usize };
            Value::String(if start < end { chars[start..end].iter().collect() } else { String::new() })
        }
        Function::TextLength => Value::from(s(0).chars().count()),
        Function::Split => {
            let t = s(0);
            let delimiters = args.get(1).filter(|d| !d.is_null()).map(text);
            let parts: Vec<Value> = match &delimiters {
                Some(d) if !d.is_empty() => t
                    .split(|c| d.contains(c))
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
                _ => t
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            };
            if parts.len() > 10_000 {
                return Err("more than 10,000 pieces".into());
            }
            Value::Array(parts)
        }
        Function::Join => match arg(0) {
            Value::Array(items) => Value::String(items.iter().map(text).collect::<Vec<_>>().join(&s(1))),
            other => return Err(format!("{} is not a list", describe(&other))),
        },
        Function::TrimLeft | Function::TrimRight => {
            let t = s(0);
            let chars = args.get(1).map(text);
            let keep = |c: char| match &chars {
                Some(set) => set.contains(c),
                None => c.is_whitespace(),
            };
            Value::String(
                if f == Function::TrimLeft { t.trim_start_matches(keep) } else { t.trim_end_matches(keep) }.to_string(),
            )
        }
        Function::Clean => Value::String(s(0).chars().filter(|c| !c.is_control()).collect()),
        Function::Char => {
            let n = num(0)?;
            let c = (n >= 0.0 && n <= f64::from(u32::MAX)).then(|| char::from_u32(n as u32)).flatten();
            Value::String(c.ok_or_else(|| format!("{n} is not a character code"))?.to_string())
        }
        Function::Code => Value::from(s(0).chars().next().ok_or_else(|| "the text is empty".to_string())? as u32),
        Function::Repeat => {
            let n = int(1)?;
            let t = s(0);
            if n < 0 {
                return Err(format!("cannot repeat {n} times"));
            }
            if t.chars().count().saturating_mul(n as usize) > 10_000 {
                return Err("the result would be longer than 10,000 characters".into());
            }
            Value::String(t.repeat(n as usize))
        }
        Function::Percent => Value::String(format!("{}%", (num(0)? * 100.0).round())),
        Function::Abs => number(num(0)?.abs()),
        Function::Max | Function::Min | Function::Mean => {
            let values = (0..args.len()).map(num).collect::<Result<Vec<_>, _>>()?;
            if values.is_empty() {
                return Err("no numbers".into());
            }
            number(match f {
                Function::Max => values.iter().copied().fold(f64::MIN, f64::max),
                Function::Min => values.iter().copied().fold(f64::MAX, f64::min),
                _ => values.iter().sum::<f64>() / values.len() as f64,
            })
        }
        Function::Mod => {
            let (a, b) = (num(0)?, num(1)?);
            if b == 0.0 {
                return Err("division by zero".into());
            }
            number(a % b)
        }
        Function::RoundUp | Function::RoundDown => {
            let n = num(0)?;
            let places = if args.len() > 1 { int(1)?.clamp(0, 15) as i32 } else { 0 };
            let factor = 10f64.powi(places);
            let r = if f == Function::RoundUp { (n * factor).ceil() } else { (n * factor).floor() };
            number(r / factor)
        }
        Function::If => {
            if truthy(&arg(0)) {
                arg(1)
            } else {
                arg(2)
            }
        }
        Function::Or => Value::Bool(args.iter().any(truthy)),
        Function::And => Value::Bool(!args.is_empty() && args.iter().all(truthy)),
        Function::ParseJson => serde_json::from_str(&s(0)).map_err(|e| format!("the text is not JSON: {e}"))?,
        Function::Extract => match arg(0) {
            Value::Object(o) => o.get(&s(1)).cloned().unwrap_or(Value::Null),
            other => return Err(format!("{} is not an object", describe(&other))),
        },
        Function::Field => {
            let n = num(1)?;
            if n < 0.0 {
                return Err(format!("there is no field {n}"));
            }
            let t = s(0);
            let delimiter = s(2);
            // A space separates fields however many there are; other delimiters one field each.
            let fields: Vec<&str> = if delimiter == " " {
                t.split(' ').filter(|p| !p.is_empty()).collect()
            } else if delimiter.is_empty() {
                // No delimiter: each character is a field.
                t.char_indices().map(|(i, c)| &t[i..i + c.len_utf8()]).collect()
            } else {
                t.split(delimiter.as_str()).collect()
            };
            Value::String(fields.get(n as usize).map(|p| p.trim().to_string()).unwrap_or_default())
        }
        Function::RegexMatch => {
            // Case-insensitive, as `has_pattern`.
            let re = regex::RegexBuilder::new(&s(1))
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|_| format!("\"{}\" is not a valid regular expression", s(1)))?;
            let group = if args.len() > 2 { int(2)? } else { 0 };
            let t = s(0);
            let caps = re.captures(&t);
            match caps {
                None => Value::String(String::new()),
                Some(caps) => {
                    let g = usize::try_from(group).ok().filter(|g| *g < caps.len());
                    let g = g.ok_or_else(|| format!("the regular expression has no group {group}"))?;
                    Value::String(caps.get(g).map_or("", |m| m.as_str()).to_string())
                }
            }
        }
        Function::UrnParts => {
            let (scheme, path, display) = urn(&s(0))?;
            let mut o = Map::new();
            o.insert("scheme".into(), Value::String(scheme));
            o.insert("path".into(), Value::String(path));
            o.insert("display".into(), Value::String(display));
            Value::Object(o)
        }
        Function::FormatUrn => {
            let (scheme, path, display) = urn(&s(0))?;
            Value::String(if !display.is_empty() {
                display
            } else if scheme == "tel" {
                national(&path).unwrap_or(path)
            } else {
                path
            })
        }
        Function::FormatDatetime => {
            let when = read_date(&s(0), cal)?;
            let default = match cal.order {
                crate::dates::DateOrder::MonthFirst => "MM-DD-YYYY tt:mm",
                crate::dates::DateOrder::YearFirst => "YYYY-MM-DD tt:mm",
                crate::dates::DateOrder::DayFirst => "DD-MM-YYYY tt:mm",
            };
            let format = if args.len() > 1 && !arg(1).is_null() { s(1) } else { default.to_string() };
            let zone = match args.get(2).map(text).filter(|z| !z.trim().is_empty()) {
                Some(name) => crate::dates::zone(&name)?,
                None => cal.zone.clone(),
            };
            Value::String(crate::dates::format(&when, &format, &cal.zone, &zone)?)
        }
        Function::FormatTime => {
            let t = crate::dates::find_time(&s(0)).ok_or_else(|| format!("\"{}\" is not a time of day", s(0)))?;
            let format = if args.len() > 1 { s(1) } else { "tt:mm".to_string() };
            if format.contains(['Y', 'M', 'D', 'W']) {
                return Err(format!("\"{format}\" is not a time format (a time of day has no date)"));
            }
            let moment = jiff::civil::DateTime::from_parts(jiff::civil::date(2000, 1, 1), t)
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .map_err(|e| e.to_string())?;
            let when = crate::dates::When::Moment(moment);
            Value::String(crate::dates::format(&when, &format, &jiff::tz::TimeZone::UTC, &jiff::tz::TimeZone::UTC)?)
        }
        Function::DatetimeDiff => {
            let (from, to) = (read_date(&s(0), cal)?, read_date(&s(1), cal)?);
            let elapsed = |w: &crate::dates::When| match w {
                crate::dates::When::Date(d) => d.to_zoned_datetime(cal.zone.clone()).map(|z| z.timestamp().as_second()),
                crate::dates::When::Moment(z) => Ok(z.timestamp().as_second()),
            };
            let seconds = || -> Result<i64, String> {
                Ok(elapsed(&to).map_err(|e| e.to_string())? - elapsed(&from).map_err(|e| e.to_string())?)
            };
            let (a, b) = (from.date(), to.date());
            // Calendar days between the two dates, whatever their times.
            let days = || -> Result<i64, String> {
                let span = a.until((jiff::Unit::Day, b)).map_err(|e| e.to_string())?;
                Ok(i64::from(span.get_days()))
            };
            Value::from(match s(2).as_str() {
                "s" => seconds()?,
                "m" => seconds()? / 60,
                "h" => seconds()? / 3600,
                "D" => days()?,
                "W" => days()? / 7,
                "M" => i64::from(b.year() - a.year()) * 12 + i64::from(b.month() - a.month()),
                "Y" => i64::from(b.year() - a.year()),
                other => return Err(format!("\"{other}\" is not a unit (units are s, m, h, D, W, M, Y)")),
            })
        }
        Function::Epoch => {
            let when = read_date(&s(0), cal)?;
            let z = match when {
                crate::dates::When::Moment(z) => z,
                crate::dates::When::Date(d) => d.to_zoned_datetime(cal.zone.clone()).map_err(|e| e.to_string())?,
            };
            number(z.timestamp().as_millisecond() as f64 / 1000.0)
        }
        Function::DatetimeFromEpoch => {
            let n = num(0)?;
            let ts = jiff::Timestamp::from_millisecond((n * 1000.0).round() as i64).map_err(|e| e.to_string())?;
            Value::String(crate::dates::moment_iso(&ts.to_zoned_datetime(cal.zone.clone())))
        }
        Function::ParseDatetime => {
            let zone = match args.get(2).map(text).filter(|z| !z.trim().is_empty()) {
                Some(name) => crate::dates::zone(&name)?,
                None => cal.zone.clone(),
            };
            let z = crate::dates::parse(&s(0), &s(1), &zone)?;
            // Every digit of the fraction the text gave, not milliseconds only.
            let iso = z.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string();
            Value::String(iso.strip_suffix("+00:00").map_or(iso.clone(), |i| format!("{i}Z")))
        }
        Function::WeekNumber => {
            let d = read_date(&s(0), cal)?.date();
            let jan1 = d.first_of_year();
            let offset = i64::from(jan1.weekday().to_sunday_zero_offset());
            Value::from((i64::from(d.day_of_year()) - 1 + offset) / 7 + 1)
        }
        other => return Err(format!("`{}` is not one of the library's", other.name())),
    })
}

/// A date or moment read from text (an ISO value, or a date in the flow's order).
fn read_date(t: &str, cal: &crate::dates::Calendar) -> Result<crate::dates::When, String> {
    crate::dates::read(t, cal).ok_or_else(|| format!("\"{t}\" is not a date"))
}

/// Each word's first letter in upper case, the rest in lower case.
fn title(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut start = true;
    for c in t.chars() {
        if c.is_alphanumeric() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// The words of `t`: split by the word tests' rules, or by any of `delimiters` when given.
fn words<'t>(t: &'t str, delimiters: Option<&Value>) -> Vec<&'t str> {
    match delimiters.filter(|d| !d.is_null()).map(text) {
        Some(d) if !d.is_empty() => t.split(|c| d.contains(c)).filter(|w| !w.is_empty()).collect(),
        _ => super::rules::words(t),
    }
}

/// A URN's scheme, path and display (`twitter:123#billy` → `twitter`, `123`, `billy`).
fn urn(u: &str) -> Result<(String, String, String), String> {
    let bad = || format!("\"{u}\" is not a URN");
    let (scheme, rest) = u.split_once(':').ok_or_else(bad)?;
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) || rest.is_empty() {
        return Err(bad());
    }
    let rest = rest.split_once('?').map_or(rest, |(p, _)| p);
    let (path, display) = rest.split_once('#').unwrap_or((rest, ""));
    Ok((scheme.to_string(), path.to_string(), display.to_string()))
}

/// A phone number as its country writes it at home.
fn national(e164: &str) -> Option<String> {
    let number = phonenumber::parse(None, e164).ok()?;
    Some(number.format().mode(phonenumber::Mode::National).to_string())
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        other => format!("\"{}\"", text(other)),
    }
}
