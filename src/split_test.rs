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
    ($($variant:ident => $name:literal, [$($arg:ident $placeholder:literal),*], $optional:literal, $example:literal,
        when $when:literal, value $value:literal;)*) => {
        /// A named split test.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum SplitTest {
            $(#[doc = concat!("`", $name, "`: matches when the text ", $when, "; matches ", $value, ".")] $variant,)*
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

            /// When it matches, completing "matches when the text ...".
            pub fn when(self) -> &'static str {
                match self { $(SplitTest::$variant => $when,)* }
            }

            /// What it matches: the value `split NAME =` saves.
            pub fn matched(self) -> &'static str {
                match self { $(SplitTest::$variant => $value,)* }
            }

            /// How it is written and when it matches, for hovers, completion and `flowc explain tests`.
            pub fn doc(self) -> &'static str {
                match self {
                    $(SplitTest::$variant => concat!(
                        "`", $name, $(" ", $placeholder,)* "`: matches when the text ", $when, "; matches ", $value
                    ),)*
                }
            }
        }
    };
}

// The catalogue: this table is the reference (`flowc explain tests` prints it, hovers show a row).
tests! {
    HasText => "has_text", [], 0, "has_text",
        when "is not empty once trimmed", value "the trimmed text";
    HasAnyWord => "has_any_word", [Text "\"words\""], 0, "has_any_word \"yes y\"",
        when "has at least one of the words", value "the text's matching words, in their order and case, joined by spaces";
    HasAllWords => "has_all_words", [Text "\"words\""], 0, "has_all_words \"red car\"",
        when "has every one of the words (no words never match)", value "the text's matching words, joined by spaces";
    HasPhrase => "has_phrase", [Text "\"words\""], 0, "has_phrase \"red car\"",
        when "has the words next to each other, in order", value "those words as written in the text";
    HasOnlyPhrase => "has_only_phrase", [Text "\"words\""], 0, "has_only_phrase \"red car\"",
        when "has exactly the words, nothing else", value "the text's words, joined by spaces";
    HasBeginning => "has_beginning", [Text "\"words\""], 0, "has_beginning \"order\"",
        when "starts, once trimmed, with the argument trimmed, ignoring case", value "the beginning as written in the text";
    HasOnlyText => "has_only_text", [Text "\"text\""], 0, "has_only_text \"Success\"",
        when "is exactly the argument, case and spaces included, and not empty (RapidPro's exact test)", value "the text";
    HasPattern => "has_pattern", [Regex "\"regex\""], 0, "has_pattern \"^order (\\\\d+)\"",
        when "matches the case-insensitive regex (docs/language.md §5.4)", value "the whole match, its groups as `.extra.1`, `.extra.2`, ...";
    HasEmail => "has_email", [], 0, "has_email",
        when "contains an e-mail address", value "the address";
    HasPhone => "has_phone", [Text "\"CC\""], 1, "has_phone \"RW\"",
        when "contains a phone number (the optional country `CC` reads numbers without `+`; §5.4)", value "the number in E.164, `+250788123456`";
    HasNumber => "has_number", [], 0, "has_number",
        when "contains a number (§5.5)", value "the first number";
    HasNumberBetween => "has_number_between", [Number "MIN", Number "MAX"], 0, "has_number_between 1 10",
        when "contains a number from MIN to MAX, both included", value "the first number that is";
    HasNumberLt => "has_number_lt", [Number "N"], 0, "has_number_lt 10",
        when "contains a number below N", value "the first number that is";
    HasNumberLte => "has_number_lte", [Number "N"], 0, "has_number_lte 10",
        when "contains a number of at most N", value "the first number that is";
    HasNumberGt => "has_number_gt", [Number "N"], 0, "has_number_gt 10",
        when "contains a number above N", value "the first number that is";
    HasNumberGte => "has_number_gte", [Number "N"], 0, "has_number_gte 10",
        when "contains a number of at least N", value "the first number that is";
    HasNumberEq => "has_number_eq", [Number "N"], 0, "has_number_eq 10",
        when "contains a number equal to N", value "the first number that is";
    HasDate => "has_date", [], 0, "has_date",
        when "contains a date in the flow's `dates` order (§5.6)", value "the date, `2026-12-24`; with the time when the reply gives one (`2026-12-24T10:30:00.000+02:00`)";
    HasDateLt => "has_date_lt", [Date "today()"], 0, "has_date_lt today()",
        when "contains a date before the argument (an expression such as `today()`, or text)", value "the date";
    HasDateEq => "has_date_eq", [Date "today()"], 0, "has_date_eq today()",
        when "contains the date of the argument", value "the date";
    HasDateGt => "has_date_gt", [Date "today()"], 0, "has_date_gt today()",
        when "contains a date after the argument", value "the date";
    HasGroup => "has_group", [Text "\"group\""], 0, "has_group \"Testers\"",
        when "lists the group (`split @contact.groups`), its name compared without case", value "the group's name as listed";
    HasTime => "has_time", [], 0, "has_time",
        when "contains a time of day (`10:30`, `10pm`, `1030`)", value "the time, `14:00`";
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
}
