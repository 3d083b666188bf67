//! The catalogue of `split` tests (docs/language.md §5): names, arguments and what the checker demands of
//! them. The interpreter's implementations hang off the same enum.

/// What a test argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A text (words, a prefix, a country code).
    Text,
    /// A number.
    Number,
    /// A regular expression written as a plain string literal.
    Regex,
    /// A date: an expression such as `today()`, or text read in the flow's date order.
    Date,
}

macro_rules! tests {
    ($($variant:ident => $name:literal, [$($arg:ident $placeholder:literal),*], $optional:literal, $example:literal;)*) => {
        /// A named split test.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum SplitTest {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl SplitTest {
            /// Every named test.
            pub const ALL: &'static [SplitTest] = &[$(SplitTest::$variant,)*];

            /// The test's name as written.
            pub fn name(self) -> &'static str {
                match self { $(SplitTest::$variant => $name,)* }
            }

            /// The arguments it takes; the last `optional()` of them may be left out.
            pub fn args(self) -> &'static [ArgKind] {
                match self { $(SplitTest::$variant => &[$(ArgKind::$arg),*],)* }
            }

            /// How many trailing arguments may be left out.
            pub fn optional(self) -> usize {
                match self { $(SplitTest::$variant => $optional,)* }
            }

            /// What an editor writes for each argument when it completes the test.
            pub fn placeholders(self) -> &'static [&'static str] {
                match self { $(SplitTest::$variant => &[$($placeholder),*],)* }
            }

            /// The test written with arguments, as a diagnostic's example.
            pub fn example(self) -> &'static str {
                match self { $(SplitTest::$variant => $example,)* }
            }
        }
    };
}

tests! {
    HasText => "has_text", [], 0, "has_text";
    HasAnyWord => "has_any_word", [Text "\"words\""], 0, "has_any_word \"yes y\"";
    HasAllWords => "has_all_words", [Text "\"words\""], 0, "has_all_words \"red car\"";
    HasPhrase => "has_phrase", [Text "\"words\""], 0, "has_phrase \"red car\"";
    HasOnlyPhrase => "has_only_phrase", [Text "\"words\""], 0, "has_only_phrase \"red car\"";
    HasBeginning => "has_beginning", [Text "\"words\""], 0, "has_beginning \"order\"";
    HasOnlyText => "has_only_text", [Text "\"text\""], 0, "has_only_text \"Success\"";
    HasPattern => "has_pattern", [Regex "\"regex\""], 0, "has_pattern \"^order (\\\\d+)\"";
    HasEmail => "has_email", [], 0, "has_email";
    HasPhone => "has_phone", [Text "\"CC\""], 1, "has_phone \"RW\"";
    HasNumber => "has_number", [], 0, "has_number";
    HasNumberBetween => "has_number_between", [Number "MIN", Number "MAX"], 0, "has_number_between 1 10";
    HasNumberLt => "has_number_lt", [Number "N"], 0, "has_number_lt 10";
    HasNumberLte => "has_number_lte", [Number "N"], 0, "has_number_lte 10";
    HasNumberGt => "has_number_gt", [Number "N"], 0, "has_number_gt 10";
    HasNumberGte => "has_number_gte", [Number "N"], 0, "has_number_gte 10";
    HasNumberEq => "has_number_eq", [Number "N"], 0, "has_number_eq 10";
    HasDate => "has_date", [], 0, "has_date";
    HasDateLt => "has_date_lt", [Date "today()"], 0, "has_date_lt today()";
    HasDateEq => "has_date_eq", [Date "today()"], 0, "has_date_eq today()";
    HasDateGt => "has_date_gt", [Date "today()"], 0, "has_date_gt today()";
    HasTime => "has_time", [], 0, "has_time";
}

impl SplitTest {
    /// Whether it reads dates or times, and so the clock and the contact's zone.
    pub fn reads_dates(self) -> bool {
        matches!(self, SplitTest::HasDate | SplitTest::HasTime) || self.args().contains(&ArgKind::Date)
    }

    /// Looks a test up by name.
    pub fn parse(name: &str) -> Option<SplitTest> {
        SplitTest::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// How it is written and when it matches (docs/language.md §5), for hovers and completion.
    pub fn doc(self) -> &'static str {
        use SplitTest::*;
        match self {
            HasText => "`has_text`: the trimmed text is not empty; matches the trimmed text",
            HasAnyWord => "`has_any_word \"a b\"`: any word of the text is one of the words",
            HasAllWords => "`has_all_words \"a b\"`: every listed word occurs in the text",
            HasPhrase => "`has_phrase \"a b\"`: the words occur consecutively, in order",
            HasOnlyPhrase => "`has_only_phrase \"a b\"`: the text's words are exactly the phrase's words",
            HasBeginning => "`has_beginning \"pre\"`: the trimmed text starts with the argument, ignoring case",
            HasOnlyText => {
                "`has_only_text \"t\"`: the text is exactly the argument, case and spaces included (RapidPro's)"
            }
            HasPattern => "`has_pattern \"re\"`: a case-insensitive regex matches; groups as `@flow.NAME.extra.1`",
            HasEmail => "`has_email`: the text contains an e-mail address",
            HasPhone => "`has_phone [\"CC\"]`: the text contains a phone number (E.164; `CC` for numbers without `+`)",
            HasNumber => "`has_number`: the text contains a number",
            HasNumberBetween => "`has_number_between MIN MAX`: some number in the text is in the range (inclusive)",
            HasNumberLt => "`has_number_lt N`: some number in the text is below N",
            HasNumberLte => "`has_number_lte N`: some number in the text is at most N",
            HasNumberGt => "`has_number_gt N`: some number in the text is above N",
            HasNumberGte => "`has_number_gte N`: some number in the text is at least N",
            HasNumberEq => "`has_number_eq N`: some number in the text equals N",
            HasDate => "`has_date`: the text contains a date in the flow's `dates` order; matches it as `YYYY-MM-DD`",
            HasDateLt => "`has_date_lt DATE`: the text contains a date before DATE (e.g. `today()`)",
            HasDateEq => "`has_date_eq DATE`: the text contains the date DATE",
            HasDateGt => "`has_date_gt DATE`: the text contains a date after DATE",
            HasTime => "`has_time`: the text contains a time of day (`10:30`, `10pm`, `1030`); matches it as `HH:MM`",
        }
    }
}
