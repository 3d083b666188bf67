//! `has_phone`: finds a phone number in a text and gives it in E.164 (`+250788123123`). Numbers written
//! with `+` carry their country code; others take the code of the country argument (ISO 3166 alpha-2),
//! dropping a national trunk prefix `0`.

use super::rules::Match;

/// ISO 3166-1 alpha-2 → ITU calling code.
const CALLING_CODES: &str = "AD376 AE971 AF93 AG1 AI1 AL355 AM374 AO244 AR54 AS1 AT43 AU61 AW297 AZ994 BA387 BB1 \
BD880 BE32 BF226 BG359 BH973 BI257 BJ229 BM1 BN673 BO591 BR55 BS1 BT975 BW267 BY375 BZ501 CA1 CD243 CF236 \
CG242 CH41 CI225 CK682 CL56 CM237 CN86 CO57 CR506 CU53 CV238 CW599 CY357 CZ420 DE49 DJ253 DK45 DM1 DO1 DZ213 \
EC593 EE372 EG20 ER291 ES34 ET251 FI358 FJ679 FM691 FO298 FR33 GA241 GB44 GD1 GE995 GH233 GI350 GL299 GM220 \
GN224 GQ240 GR30 GT502 GU1 GW245 GY592 HK852 HN504 HR385 HT509 HU36 ID62 IE353 IL972 IN91 IQ964 IR98 IS354 \
IT39 JM1 JO962 JP81 KE254 KG996 KH855 KI686 KM269 KN1 KP850 KR82 KW965 KY1 KZ7 LA856 LB961 LC1 LI423 LK94 \
LR231 LS266 LT370 LU352 LV371 LY218 MA212 MC377 MD373 ME382 MG261 MH692 MK389 ML223 MM95 MN976 MO853 MR222 \
MS1 MT356 MU230 MV960 MW265 MX52 MY60 MZ258 NA264 NC687 NE227 NG234 NI505 NL31 NO47 NP977 NR674 NZ64 OM968 \
PA507 PE51 PF689 PG675 PH63 PK92 PL48 PR1 PS970 PT351 PW680 PY595 QA974 RE262 RO40 RS381 RU7 RW250 SA966 \
SB677 SC248 SD249 SE46 SG65 SI386 SK421 SL232 SM378 SN221 SO252 SR597 SS211 ST239 SV503 SY963 SZ268 TC1 TD235 \
TG228 TH66 TJ992 TL670 TM993 TN216 TO676 TR90 TT1 TV688 TW886 TZ255 UA380 UG256 US1 UY598 UZ998 VA39 VC1 \
VE58 VG1 VI1 VN84 VU678 WS685 YE967 ZA27 ZM260 ZW263";

/// The calling code of a country.
pub fn calling_code(country: &str) -> Option<&'static str> {
    let country = country.trim().to_ascii_uppercase();
    CALLING_CODES.split_whitespace().find_map(|e| (e.get(..2) == Some(country.as_str())).then(|| &e[2..]))
}

/// The first phone number in `text`, in E.164.
pub fn find(text: &str, country: &str) -> Option<Match> {
    let chars: Vec<char> = text.chars().collect();
    let is_sep = |c: char| matches!(c, ' ' | '-' | '.' | '(' | ')');
    let mut i = 0;
    while i < chars.len() {
        // A number starts with `+`, `(` or a digit that is not glued to a word.
        let plus = chars[i] == '+';
        let mut first = i + usize::from(plus);
        while chars.get(first) == Some(&'(') {
            first += 1;
        }
        if !chars.get(first).is_some_and(|c| c.is_ascii_digit()) || (i > 0 && chars[i - 1].is_alphanumeric()) {
            i += 1;
            continue;
        }
        // Digits, with the separators people write between them (at most two in a row).
        let mut digits = String::new();
        let mut j = first;
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits.push(c);
                j += 1;
            } else if is_sep(c) {
                let mut k = j;
                while k < chars.len() && is_sep(chars[k]) && k - j < 2 {
                    k += 1;
                }
                if chars.get(k).is_some_and(|c| c.is_ascii_digit()) {
                    j = k;
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        if let Some(e164) = normalize(&digits, plus, country) {
            return Some(Match { value: e164, groups: Vec::new() });
        }
        i = j.max(i + 1);
    }
    None
}

fn normalize(digits: &str, plus: bool, country: &str) -> Option<String> {
    let full = if plus {
        digits.to_string()
    } else {
        let code = calling_code(country)?;
        let national = digits.strip_prefix('0').unwrap_or(digits);
        // National numbers have at least 7 digits after the trunk prefix.
        if national.len() < 7 {
            return None;
        }
        if digits.starts_with(code) && digits.len() >= 10 + code.len() - 1 {
            digits.to_string()
        } else {
            format!("{code}{national}")
        }
    };
    // E.164: at most 15 digits; real numbers have at least 8 with the country code.
    (8..=15).contains(&full.len()).then(|| format!("+{full}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str, cc: &str) -> Option<String> {
        find(text, cc).map(|m| m.value)
    }

    #[test]
    fn international_and_local_numbers() {
        assert_eq!(phone("call +250 788 123 123 now", ""), Some("+250788123123".into()));
        assert_eq!(phone("my number is 0788123123", "RW"), Some("+250788123123".into()));
        assert_eq!(phone("(202) 555-0143", "US"), Some("+12025550143".into()));
        assert_eq!(phone("1-202-555-0143", "us"), Some("+12025550143".into()));
        assert_eq!(phone("0788123123", ""), None, "no country, no +");
        assert_eq!(phone("order 12", "RW"), None, "too short");
        assert_eq!(phone("abc123456789", "RW"), None, "glued to a word");
        assert_eq!(phone("", "RW"), None);
        assert_eq!(calling_code("rw"), Some("250"));
        assert_eq!(calling_code("XX"), None);
    }
}
