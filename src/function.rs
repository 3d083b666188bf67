//! Built-in functions callable in expressions: names, arity and types.

use crate::types::Ty;

macro_rules! functions {
    ($($variant:ident => $name:literal, $min:literal..=$max:literal, $doc:literal;)*) => {
        /// A built-in function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Function {
            $(#[doc = $doc] $variant,)*
        }

        impl Function {
            /// Every function.
            pub const ALL: &'static [Function] = &[$(Function::$variant,)*];

            /// The name as written.
            pub fn name(self) -> &'static str {
                match self { $(Function::$variant => $name,)* }
            }

            /// Fewest and most arguments.
            pub fn arity(self) -> (usize, usize) {
                match self { $(Function::$variant => ($min, $max),)* }
            }

            /// What it does, in a line.
            pub fn doc(self) -> &'static str {
                match self { $(Function::$variant => $doc,)* }
            }
        }
    };
}

functions! {
    Upper => "upper", 1..=1, "`upper(text)`: the text in upper case";
    Lower => "lower", 1..=1, "`lower(text)`: the text in lower case";
    Trim => "trim", 1..=2, "`trim(text, [characters])`: the text without leading and trailing white space (or those characters)";
    Length => "length", 1..=1, "`length(x)`: characters of a text, items of a list, keys of an object";
    Default => "default", 2..=2, "`default(x, fallback)`: x, or fallback when x is empty or missing";
    Number => "number", 1..=1, "`number(x)`: x read as a number (the first number in a text)";
    Text => "text", 1..=1, "`text(x)`: x as text";
    FormatNumber => "format_number", 1..=2, "`format_number(n, [decimals])`: n with thousands separators and fixed decimals";
    Round => "round", 1..=2, "`round(n, [decimals])`: n rounded";
    Now => "now", 0..=0, "`now()`: the current time, ISO 8601 in the contact's time zone";
    Today => "today", 0..=0, "`today()`: today's date in the contact's time zone, `YYYY-MM-DD`";
    DatetimeAdd => "datetime_add", 3..=3, "`datetime_add(date, n, unit)`: n units later, unit one of `s m h D W M Y`";
    FormatDate => "format_date", 1..=3, "`format_date(date, [format], [zone])`: a date formatted, e.g. `DD/MM/YYYY tt:mm`";
    Weekday => "weekday", 1..=1, "`weekday(date)`: the day of the week, 0 for Sunday to 6 for Saturday";
    UrlEncode => "url_encode", 1..=1, "`url_encode(text)`: the text percent-encoded for a URL";
    Json => "json", 1..=1, "`json(x)`: x encoded as JSON text";
    Title => "title", 1..=1, "`title(text)`: each word capitalised: `Hello World`";
    Word => "word", 2..=3, "`word(text, n, [delimiters])`: the nth word (from 0; negative from the end)";
    WordCount => "word_count", 1..=2, "`word_count(text, [delimiters])`: how many words";
    WordSlice => "word_slice", 2..=4, "`word_slice(text, start, [end], [delimiters])`: words from start up to end, joined by spaces";
    RemoveFirstWord => "remove_first_word", 1..=1, "`remove_first_word(text)`: the text after its first word";
    Replace => "replace", 3..=4, "`replace(text, needle, replacement, [count])`: the text with needle replaced (count times; all when -1)";
    TextSlice => "text_slice", 2..=3, "`text_slice(text, start, [end])`: characters from start up to end (negative from the end)";
    TextLength => "text_length", 1..=1, "`text_length(text)`: how many characters";
    Split => "split", 1..=2, "`split(text, [delimiters])`: the text's non-empty pieces between delimiters (white space by default)";
    Join => "join", 2..=2, "`join(list, separator)`: the items as text, joined";
    TrimLeft => "trim_left", 1..=2, "`trim_left(text, [characters])`: without leading white space (or those characters)";
    TrimRight => "trim_right", 1..=2, "`trim_right(text, [characters])`: without trailing white space (or those characters)";
    Clean => "clean", 1..=1, "`clean(text)`: without control characters";
    Char => "char", 1..=1, "`char(n)`: the character with code n";
    Code => "code", 1..=1, "`code(text)`: the code of the first character";
    Repeat => "repeat", 2..=2, "`repeat(text, n)`: the text n times";
    Percent => "percent", 1..=1, "`percent(n)`: n as a rounded percentage: `54%`";
    Abs => "abs", 1..=1, "`abs(n)`: n without its sign";
    Max => "max", 1..=100, "`max(n, ...)`: the largest";
    Min => "min", 1..=100, "`min(n, ...)`: the smallest";
    Mean => "mean", 1..=100, "`mean(n, ...)`: the average";
    Mod => "mod", 2..=2, "`mod(a, b)`: the remainder of a divided by b";
    RoundUp => "round_up", 1..=2, "`round_up(n, [places])`: n rounded up";
    RoundDown => "round_down", 1..=2, "`round_down(n, [places])`: n rounded down";
    If => "if", 3..=3, "`if(test, a, b)`: a when the test is true, else b";
    Or => "or", 1..=100, "`or(a, ...)`: whether any is true";
    And => "and", 1..=100, "`and(a, ...)`: whether all are true";
    IsError => "is_error", 1..=1, "`is_error(x)`: whether working out x failed (a function that could not do its job)";
    ParseJson => "parse_json", 1..=1, "`parse_json(text)`: the JSON value the text holds";
    Extract => "extract", 2..=2, "`extract(object, key)`: the key's value";
    Field => "field", 3..=3, "`field(text, n, delimiter)`: the nth field (from 0) between delimiters";
    RegexMatch => "regex_match", 2..=3, "`regex_match(text, regex, [group])`: what the regex (or its group) matches";
    UrnParts => "urn_parts", 1..=1, "`urn_parts(urn)`: `{scheme, path, display}`";
    FormatUrn => "format_urn", 1..=1, "`format_urn(urn)`: the URN as people read it (a phone number in its national form)";
    FormatDatetime => "format_datetime", 1..=3, "`format_datetime(moment, [format], [zone])`: a date and time formatted, by default in the flow's date order";
    FormatTime => "format_time", 1..=2, "`format_time(time, [format])`: a time of day formatted, `tt:mm` by default";
    DatetimeDiff => "datetime_diff", 3..=3, "`datetime_diff(from, to, unit)`: whole units from one to the other, unit one of `s m h D W M Y`";
    Epoch => "epoch", 1..=1, "`epoch(moment)`: seconds since 1970-01-01 UTC";
    DatetimeFromEpoch => "datetime_from_epoch", 1..=1, "`datetime_from_epoch(seconds)`: the moment, in the contact's time zone";
    VisitCount => "visit_count", 0..=0, "`visit_count()`: how many times this run has entered the step it is in (RapidPro's `@node.visit_count`)";
    ParseDatetime => "parse_datetime", 2..=3, "`parse_datetime(text, format, [zone])`: the moment the text writes in that format";
    WeekNumber => "week_number", 1..=1, "`week_number(date)`: the week of the year, weeks starting on Sunday";
}

impl Function {
    /// Looks a function up by name.
    pub fn parse(name: &str) -> Option<Function> {
        Function::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Which parameters must be numbers.
    pub fn number_params(self) -> &'static [usize] {
        match self {
            Function::FormatNumber | Function::Round => &[0, 1],
            Function::DatetimeAdd => &[1],
            // The functions that came with RapidPro's library read text as a number when they run, as
            // goflow does (a text that is not one makes the call fail).
            _ => &[],
        }
    }

    /// The type of the result, given the types of the arguments.
    pub fn result(self, args: &[Ty]) -> Ty {
        match self {
            Function::Length
            | Function::Number
            | Function::Round
            | Function::Weekday
            | Function::WordCount
            | Function::TextLength
            | Function::Code
            | Function::Abs
            | Function::Max
            | Function::Min
            | Function::Mean
            | Function::Mod
            | Function::RoundUp
            | Function::RoundDown
            | Function::VisitCount
            | Function::DatetimeDiff
            | Function::Epoch
            | Function::WeekNumber => Ty::Number,
            Function::Or | Function::And | Function::IsError => Ty::Bool,
            Function::Split => Ty::List(Box::new(Ty::Text)),
            Function::ParseJson | Function::Extract | Function::UrnParts => Ty::Json,
            Function::If => match args {
                [_, a, b] if a == b => a.clone(),
                _ => Ty::Json,
            },
            Function::Default => match args {
                [a, b] if a == b => a.clone(),
                _ => Ty::Json,
            },
            _ => Ty::Text,
        }
    }
}
