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
    Trim => "trim", 1..=1, "`trim(text)`: the text without leading and trailing white space";
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
            _ => &[],
        }
    }

    /// The type of the result, given the types of the arguments.
    pub fn result(self, args: &[Ty]) -> Ty {
        match self {
            Function::Length | Function::Number | Function::Round | Function::Weekday => Ty::Number,
            Function::Default => match args {
                [a, b] if a == b => a.clone(),
                _ => Ty::Json,
            },
            _ => Ty::Text,
        }
    }
}
