//! Splits a `QueryExpression` into tokens in one pass over its characters. Keywords are
//! recognised case-insensitively; strings have their escapes resolved here, so the
//! parser sees plain values.

use super::ast::Number;
use super::position::{error_at, excerpt, Position};
use crate::error::Result;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Has,
    Colon,
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
    /// A field or option name as written, e.g. `Tags.user-delete-ai-tags`.
    Ident(String),
    /// A double-quoted string, escapes resolved.
    Str(String),
    Number(Number),
    Eof,
}

/// A token, where it starts, and its source text for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub at: Position,
    pub text: String,
}

impl Token {
    /// How an error message names this token: `'AND'`, `"blue_car"`, or the end.
    pub fn describe(&self) -> String {
        match self.kind {
            TokenKind::Eof => "the end of the expression".to_string(),
            TokenKind::Str(_) => excerpt(&self.text, 40),
            _ => format!("'{}'", excerpt(&self.text, 40)),
        }
    }
}

/// The tokens of `input`, ending with [`TokenKind::Eof`].
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>> {
    let mut lexer = Lexer {
        chars: input.chars().collect(),
        index: 0,
        line: 1,
        column: 1,
        multiline: input.contains('\n'),
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    index: usize,
    line: usize,
    column: usize,
    multiline: bool,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

impl Lexer {
    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
            multiline: self.multiline,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.index).copied()
    }

    fn peek_second(&self) -> Option<char> {
        self.chars.get(self.index + 1).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.index += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn source_since(&self, start: usize) -> String {
        self.chars[start..self.index].iter().collect()
    }

    fn next_token(&mut self) -> Result<Token> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        let at = self.position();
        let start = self.index;
        let Some(c) = self.bump() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                at,
                text: String::new(),
            });
        };
        let kind = match c {
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            ':' => TokenKind::Colon,
            '=' => TokenKind::Eq,
            '>' | '<' => self.comparison(c),
            '"' => TokenKind::Str(self.string(at)?),
            '-' | '0'..='9' => TokenKind::Number(self.number(c, at, start)?),
            c if is_ident_start(c) => self.word(start),
            '!' if self.peek() == Some('=') => {
                return Err(error_at(
                    at,
                    "'!=' is not an operator; write NOT field = value",
                ))
            }
            '\'' => {
                return Err(error_at(
                    at,
                    "strings are written in double quotes, e.g. FileName = \"a.jpg\"",
                ))
            }
            other => {
                return Err(error_at(
                    at,
                    format!("unexpected character '{}'", other.escape_debug()),
                ))
            }
        };
        Ok(Token {
            kind,
            at,
            text: self.source_since(start),
        })
    }

    fn comparison(&mut self, first: char) -> TokenKind {
        let or_equal = self.peek() == Some('=');
        if or_equal {
            self.bump();
        }
        match (first, or_equal) {
            ('>', false) => TokenKind::Gt,
            ('>', true) => TokenKind::Ge,
            ('<', false) => TokenKind::Lt,
            _ => TokenKind::Le,
        }
    }

    fn word(&mut self, start: usize) -> TokenKind {
        while self.peek().is_some_and(is_ident_char) {
            self.bump();
        }
        let word = self.source_since(start);
        match word.to_ascii_uppercase().as_str() {
            "AND" => TokenKind::And,
            "OR" => TokenKind::Or,
            "NOT" => TokenKind::Not,
            "HAS" => TokenKind::Has,
            _ => TokenKind::Ident(word),
        }
    }

    /// `-?[0-9]+(\.[0-9]+)?`; the first character is already consumed.
    fn number(&mut self, first: char, at: Position, start: usize) -> Result<Number> {
        if first == '-' && !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(error_at(at, "expected a digit after '-'"));
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let decimal =
            self.peek() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit());
        if decimal {
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        let text = self.source_since(start);
        let out_of_range = || {
            error_at(
                at,
                format!("the number {} is out of range", excerpt(&text, 40)),
            )
        };
        if decimal {
            let value: f64 = text.parse().map_err(|_| out_of_range())?;
            return value
                .is_finite()
                .then_some(Number::Float(value))
                .ok_or_else(out_of_range);
        }
        text.parse().map(Number::Int).map_err(|_| out_of_range())
    }

    /// A string after its opening quote, up to the closing one.
    fn string(&mut self, at: Position) -> Result<String> {
        let mut value = String::new();
        loop {
            let here = self.position();
            match self.bump() {
                None => {
                    return Err(error_at(
                        at,
                        "this string has no closing '\"' (write \\\" for a quote inside a string)",
                    ))
                }
                Some('"') => return Ok(value),
                Some('\\') => value.push(self.escape(here)?),
                // PostgreSQL text cannot hold NUL, so no stored value contains one.
                Some('\0') => return Err(error_at(here, "strings may not contain NUL")),
                Some(c) => value.push(c),
            }
        }
    }

    /// The character an escape stands for; the backslash is consumed, `at` is its position.
    fn escape(&mut self, at: Position) -> Result<char> {
        let escaped = match self.bump() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => return self.unicode_escape(at),
            Some(other) => {
                return Err(error_at(
                    at,
                    format!(
                        "unknown escape '\\{}' (known: \\\" \\\\ \\/ \\n \\r \\t \\uXXXX)",
                        other.escape_debug()
                    ),
                ))
            }
            None => return Err(error_at(at, "expected an escaped character after '\\'")),
        };
        Ok(escaped)
    }

    /// `\uXXXX`, with a following `\uXXXX` when the first is a high surrogate.
    fn unicode_escape(&mut self, at: Position) -> Result<char> {
        let high = self.hex4(at)?;
        let code = if (0xD800..0xDC00).contains(&high) {
            let pair = self.peek() == Some('\\') && self.peek_second() == Some('u');
            if !pair {
                return Err(error_at(at, "a \\u escape of a high surrogate needs its low surrogate (\\uDC00-\\uDFFF) right after it"));
            }
            self.bump();
            self.bump();
            let low = self.hex4(at)?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(error_at(
                    at,
                    "expected a low surrogate (\\uDC00-\\uDFFF) after a high surrogate",
                ));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        match char::from_u32(code) {
            Some('\0') => Err(error_at(at, "strings may not contain NUL")),
            Some(c) => Ok(c),
            None => Err(error_at(at, "a lone low surrogate is not a character")),
        }
    }

    fn hex4(&mut self, at: Position) -> Result<u32> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16));
            let Some(digit) = digit else {
                return Err(error_at(at, "expected four hex digits after '\\u'"));
            };
            self.bump();
            code = code * 16 + digit;
        }
        Ok(code)
    }
}
