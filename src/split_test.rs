//! The catalogue of `split` tests (LANGUAGE.md §5): names, arguments and what the checker demands of
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
}

macro_rules! tests {
    ($($variant:ident => $name:literal, [$($arg:ident),*], $optional:literal;)*) => {
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
        }
    };
}

tests! {
    HasText => "has_text", [], 0;
    HasAnyWord => "has_any_word", [Text], 0;
    HasAllWords => "has_all_words", [Text], 0;
    HasPhrase => "has_phrase", [Text], 0;
    HasOnlyPhrase => "has_only_phrase", [Text], 0;
    HasBeginning => "has_beginning", [Text], 0;
    HasPattern => "has_pattern", [Regex], 0;
    HasEmail => "has_email", [], 0;
    HasPhone => "has_phone", [Text], 1;
    HasNumber => "has_number", [], 0;
    HasNumberBetween => "has_number_between", [Number, Number], 0;
    HasNumberLt => "has_number_lt", [Number], 0;
    HasNumberLte => "has_number_lte", [Number], 0;
    HasNumberGt => "has_number_gt", [Number], 0;
    HasNumberGte => "has_number_gte", [Number], 0;
    HasNumberEq => "has_number_eq", [Number], 0;
}

impl SplitTest {
    /// Looks a test up by name.
    pub fn parse(name: &str) -> Option<SplitTest> {
        SplitTest::ALL.iter().copied().find(|t| t.name() == name)
    }
}
