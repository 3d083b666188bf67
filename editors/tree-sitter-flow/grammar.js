/**
 * A tree-sitter grammar for the flow language, for highlighting in Neovim, Helix and Zed (editors that
 * do not run `flowc lsp`, or before it starts). It reads a file as a sequence of items, blocks and
 * tokens, as a highlighter needs; `grammar/flow.pest` stays the language's definition, and flowc's own
 * parser is what checks a file.
 */
module.exports = grammar({
  name: 'flow',

  extras: $ => [/[ \t\r\n]/, $.comment],

  word: $ => $.identifier,

  rules: {
    source_file: $ => repeat($._node),

    _node: $ => choice(
      $.block,
      $.group,
      $.list,
      $.keyword,
      $.option,
      $.method,
      $.constant,
      $.test,
      $.call,
      $.reference,
      $.string,
      $.duration,
      $.number,
      $.identifier,
      $.operator,
      $.punctuation,
    ),

    block: $ => seq('{', repeat($._node), '}'),
    group: $ => seq(choice('(', '@('), repeat($._node), ')'),
    list: $ => seq('[', repeat($._node), ']'),

    keyword: _ => choice(
      'flow', 'connector', 'trigger', 'send', 'wait', 'webhook', 'split', 'set', 'step', 'goto',
      'email', 'respond', 'stop', 'enter', 'case', 'other', 'on', 'start', 'expect', 'numbers', 'dates', 'channel',
      'keyword', 'catchall', 'receive', 'for', 'via',
    ),
    option: _ => choice(
      'methods', 'auth', 'signature', 'header', 'query', 'body', 'timeout', 'failure', 'retries',
      'backoff', 'as', 'subject', 'status', 'basic', 'bearer', 'api_key', 'decimal', 'json', 'xml',
      'text', 'form', 'env', 'external', 'telegram', 'twilio', 'token', 'secret', 'account', 'from',
      'day_first', 'month_first', 'year_first', 'expired', 'terminal', 'rate',
    ),
    method: _ => choice('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    constant: _ => choice('true', 'false', 'null'),

    test: _ => token(prec(1, /has_[a-z_]+/)),
    call: $ => seq(field('name', $.identifier), $.arguments),
    arguments: $ => seq(token.immediate('('), repeat($._node), ')'),

    reference: _ => token(seq('@', choice('flow', 'extra', 'contact', 'trigger', 'webhook', 'input', 'child', 'parent'), repeat(seq('.', /[A-Za-z0-9_]+/)))),

    string: $ => seq(
      '"',
      repeat(choice(
        $.string_content,
        $.escape_sequence,
        $.at_sign,
        $.interpolation,
        alias($._template_reference, $.reference),
      )),
      '"',
    ),
    string_content: _ => token.immediate(prec(1, /[^"\\@\n]+/)),
    escape_sequence: _ => token.immediate(/\\(["\\nt]|u\{[0-9A-Fa-f]{1,6}\})/),
    at_sign: _ => token.immediate(choice('@@', '@')),
    interpolation: $ => seq(token.immediate('@('), repeat($._node), ')'),
    _template_reference: _ => token.immediate(prec(2, seq('@', choice('flow', 'extra', 'contact', 'trigger', 'webhook', 'input', 'child', 'parent'), repeat(seq('.', /[A-Za-z0-9_]+/))))),

    duration: _ => token(prec(2, /[0-9]+(ms|s|m|h|d)/)),
    number: _ => /[0-9]+(\.[0-9]+)?|\.[0-9]+/,
    identifier: _ => /[A-Za-z_][A-Za-z0-9_]*/,
    operator: _ => choice('||', '&&', '==', '!=', '<=', '>=', '<', '>', '&', '+', '-', '*', '/', '!', '=', '?'),
    punctuation: _ => choice(',', ';', ':', '.'),

    comment: _ => token(seq('//', /[^\n]*/)),
  },
});
