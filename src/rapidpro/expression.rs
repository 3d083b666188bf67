//! An Excellent expression (the inside of `@(...)`) read into a flowc expression, when every part of
//! it has a flowc counterpart: references flowc has ([`super::template::reference`]), the functions of
//! flowc's library (Excellent's names are case-insensitive), `and()`, `or()` and `not()` (flowc's `&&`,
//! `||` and `!`), text, numbers, booleans, `&`, arithmetic and comparisons (`=` is `==`, `<>` is
//! `!=`). Anything else is `None`: the caller keeps the expression as text and says so.
//!
//! Excellent's precedence, lowest first: comparisons, `&`, `+ -`, `* /`, `^`, unary `-`. The output is
//! bracketed wherever flowc's precedence could read it otherwise.

/// The flowc expression, or `None`.
pub(super) fn convert(expr: &str, calls: super::names::Calls<'_>) -> Option<String> {
    let mut p = Parser { chars: expr.chars().collect(), at: 0, calls, depth: 0 };
    let out = p.comparison()?;
    p.space();
    if p.at != p.chars.len() {
        return None;
    }
    // The outermost brackets are `@(...)`'s own.
    Some(match out.strip_prefix('(').and_then(|o| o.strip_suffix(')')) {
        Some(inner) if one_group(&out) => inner.to_string(),
        _ => out,
    })
}

/// Whether `s` is one bracketed group: the `(` it starts with closes at its end (outside quotes).
pub(super) fn one_group(s: &str) -> bool {
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return i == s.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    calls: super::names::Calls<'a>,
    /// Nesting, bounded: a hostile export cannot exhaust the stack.
    depth: usize,
}

const MAX_DEPTH: usize = 64;

/// Excellent's binary operators, lowest precedence first: as written, and as flowc writes them (a
/// longer operator before its prefix: `<=` before `<`).
const LEVELS: &[&[(&str, &str)]] = &[
    &[("<=", "<="), (">=", ">="), ("<>", "!="), ("!=", "!="), ("=", "=="), ("<", "<"), (">", ">")],
    &[("&", "&")],
    &[("+", "+"), ("-", "-")],
    &[("*", "*"), ("/", "/")],
];

impl Parser<'_> {
    fn space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.space();
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, s: &str) -> bool {
        self.space();
        let n = s.chars().count();
        if self.chars.len() >= self.at + n && self.chars[self.at..self.at + n].iter().copied().eq(s.chars()) {
            self.at += n;
            true
        } else {
            false
        }
    }

    fn comparison(&mut self) -> Option<String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let out = self.binary(0)?;
        self.depth -= 1;
        Some(out)
    }

    /// The operators of `LEVELS[level]` between operands of the levels above it, bracketed.
    fn binary(&mut self, level: usize) -> Option<String> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level + 1)?;
        while let Some(op) = ops.iter().find(|(written, _)| self.eat(written)).map(|(_, flowc)| *flowc) {
            let right = self.binary(level + 1)?;
            left = format!("({left} {op} {right})");
        }
        // flowc has no power operator.
        if level + 1 == LEVELS.len() && self.peek() == Some('^') {
            return None;
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<String> {
        if self.eat("-") {
            return Some(format!("-{}", self.unary()?));
        }
        self.postfix()
    }

    /// An atom and its `.key` and `[index]` lookups.
    fn postfix(&mut self) -> Option<String> {
        let mut out = self.atom()?;
        loop {
            if self.chars.get(self.at) == Some(&'[') {
                self.at += 1;
                let index = self.comparison()?;
                if !self.eat("]") {
                    return None;
                }
                out = format!("{out}[{index}]");
            } else if self.chars.get(self.at) == Some(&'.') && out.ends_with([')', ']']) {
                self.at += 1;
                let key = self.word();
                if key.is_empty() {
                    return None;
                }
                out = format!("{out}.{key}");
            } else {
                return Some(out);
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self.chars.get(self.at).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn atom(&mut self) -> Option<String> {
        match self.peek()? {
            '(' => {
                self.at += 1;
                // Every operation is written bracketed already.
                let inner = self.comparison()?;
                self.eat(")").then_some(inner)
            }
            '"' => self.text(),
            c if c.is_ascii_digit() => {
                let start = self.at;
                while self.chars.get(self.at).is_some_and(|c| c.is_ascii_digit() || *c == '.') {
                    self.at += 1;
                }
                let n: String = self.chars[start..self.at].iter().collect();
                n.parse::<f64>().is_ok().then_some(n)
            }
            c if c.is_alphabetic() || c == '_' => {
                // A dotted path, or a function call.
                let start = self.at;
                while self.chars.get(self.at).is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '.') {
                    self.at += 1;
                }
                let path: String = self.chars[start..self.at].iter().collect();
                if self.chars.get(self.at) == Some(&'(') {
                    self.at += 1;
                    return self.call(&path.to_lowercase());
                }
                match path.to_lowercase().as_str() {
                    "true" | "false" | "null" => Some(path.to_lowercase()),
                    _ => super::names::reference(path.trim_end_matches('.'), self.calls)
                        .map(|r| if r.starts_with('@') && !r.contains(' ') { r } else { format!("({r})") }),
                }
            }
            _ => None,
        }
    }

    /// A function's arguments, after its `(`.
    fn call(&mut self, name: &str) -> Option<String> {
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.comparison()?);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return None;
                }
            }
        }
        match (name, args.as_slice()) {
            ("and", [first, rest @ ..]) if !rest.is_empty() => {
                Some(format!("({})", std::iter::once(first).chain(rest).cloned().collect::<Vec<_>>().join(" && ")))
            }
            ("or", [first, rest @ ..]) if !rest.is_empty() => {
                Some(format!("({})", std::iter::once(first).chain(rest).cloned().collect::<Vec<_>>().join(" || ")))
            }
            ("not", [x]) => Some(format!("!{x}")),
            _ => {
                let f = crate::function::Function::parse(name)?;
                let (min, max) = f.arity();
                (min..=max).contains(&args.len()).then(|| format!("{}({})", f.name(), args.join(", ")))
            }
        }
    }

    /// A quoted text: `\"` and `""` are quotes; an `@` inside is written `@@`.
    fn text(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = String::from("\"");
        loop {
            let c = *self.chars.get(self.at)?;
            self.at += 1;
            match c {
                '\\' => {
                    let next = *self.chars.get(self.at)?;
                    self.at += 1;
                    out.push('\\');
                    out.push(next);
                }
                '"' if self.chars.get(self.at) == Some(&'"') => {
                    self.at += 1;
                    out.push_str("\\\"");
                }
                '"' => break,
                '@' => out.push_str("@@"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::convert;

    #[test]
    fn excellent_reads_as_flowc() {
        let c = |e: &str| convert(e, crate::rapidpro::names::Calls::default());
        assert_eq!(c("UPPER(contact.name) & \"!\"").as_deref(), Some("upper(@contact.name) & \"!\""));
        assert_eq!(c("results.age = 3").as_deref(), Some("@flow.age == 3"));
        assert_eq!(
            c("or(and(results.total >= 1, (results.total < 100)), not((results.reply = \"\")))").as_deref(),
            Some("((@flow.total >= 1) && (@flow.total < 100)) || !(@flow.reply == \"\")")
        );
        assert_eq!(c("1 + 2 * -3").as_deref(), Some("1 + (2 * -3)"));
        assert_eq!(c("(1 + 2) * (3 + 4)").as_deref(), Some("(1 + 2) * (3 + 4)"));
        assert_eq!(c("webhook.json.contacts[0].id").as_deref(), Some("@extra.contacts[0].id"));
        // What flowc lacks, or is not an expression.
        assert_eq!(c("format_location(contact.name)"), None);
        assert_eq!(c("2 ^ 3"), None);
        assert_eq!(c("upper(contact.name"), None);
        assert_eq!(c(&"(".repeat(500)), None);
    }
}
