; Highlights for the flow language (Neovim, Helix, Zed).
(comment) @comment
(keyword) @keyword
(option) @keyword.operator
(method) @constant.builtin
(constant) @constant.builtin
(test) @function.builtin
(call name: (identifier) @function.call)
(reference) @variable.builtin
(string) @string
(escape_sequence) @string.escape
(at_sign) @string.special
(interpolation) @embedded
(duration) @number
(number) @number
(operator) @operator
(punctuation) @punctuation.delimiter
["{" "}" "(" ")" "[" "]" "@("] @punctuation.bracket
