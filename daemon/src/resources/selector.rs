//! The `nodeSelector` expression language: which nodes a pool or a peer applies to, by label.
//!
//! ```text
//! expr    := or
//! or      := and ( "||" and )*
//! and     := unary ( "&&" unary )*
//! unary   := "!" unary | primary
//! primary := "(" expr ")" | "all()" | "has(" key ")"
//!          | key "==" value | key "!=" value
//!          | key "in" set | key "not" "in" set
//! set     := "{" [ value ( "," value )* ] "}"
//! value   := '...' | "..."          key := [A-Za-z0-9_./-]+
//! ```
//!
//! `k != v` and `k not in {..}` hold for nodes without the label `k` (as in Calico). Errors
//! carry the column where parsing failed. The full description is in docs/datastore.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A parse error, with the 1-based column where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column} of {text:?}")]
pub struct SelectorError {
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// What was expected or wrong.
    pub message: String,
    /// The whole selector as written.
    pub text: String,
}

/// A parsed selector expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `all()`: every node.
    All,
    /// `has(k)`: the label exists.
    Has(String),
    /// `k == v`.
    Eq(String, String),
    /// `k != v` (true when the label is absent).
    Ne(String, String),
    /// `k in {..}`.
    In(String, BTreeSet<String>),
    /// `k not in {..}` (true when the label is absent).
    NotIn(String, BTreeSet<String>),
    /// `!e`.
    Not(Box<Expr>),
    /// `a && b`.
    And(Box<Expr>, Box<Expr>),
    /// `a || b`.
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Evaluates against a node's labels.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Expr::All => true,
            Expr::Has(k) => labels.contains_key(k),
            Expr::Eq(k, v) => labels.get(k) == Some(v),
            Expr::Ne(k, v) => labels.get(k) != Some(v),
            Expr::In(k, set) => labels.get(k).is_some_and(|v| set.contains(v)),
            Expr::NotIn(k, set) => !labels.get(k).is_some_and(|v| set.contains(v)),
            Expr::Not(e) => !e.matches(labels),
            Expr::And(a, b) => a.matches(labels) && b.matches(labels),
            Expr::Or(a, b) => a.matches(labels) || b.matches(labels),
        }
    }
}

/// A validated selector: its source text (kept for serialisation) and the parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    source: String,
    expr: Expr,
}

impl Selector {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Self, SelectorError> {
        let tokens = tokenize(source)?;
        let mut parser = Parser {
            source,
            tokens,
            at: 0,
        };
        let expr = parser.or()?;
        if let Some(tok) = parser.peek() {
            return Err(parser.error_at(tok.column, format!("unexpected {}", tok.kind)));
        }
        Ok(Selector {
            source: source.to_owned(),
            expr,
        })
    }

    /// `all()`.
    pub fn all() -> Self {
        Selector {
            source: "all()".into(),
            expr: Expr::All,
        }
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether a node with `labels` is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.expr.matches(labels)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokKind {
    Key(String),
    Str(String),
    EqEq,
    NotEq,
    Bang,
    AndAnd,
    OrOr,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
}

impl fmt::Display for TokKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokKind::Key(k) => write!(f, "'{k}'"),
            TokKind::Str(s) => write!(f, "string {s:?}"),
            TokKind::EqEq => f.write_str("'=='"),
            TokKind::NotEq => f.write_str("'!='"),
            TokKind::Bang => f.write_str("'!'"),
            TokKind::AndAnd => f.write_str("'&&'"),
            TokKind::OrOr => f.write_str("'||'"),
            TokKind::LParen => f.write_str("'('"),
            TokKind::RParen => f.write_str("')'"),
            TokKind::LBrace => f.write_str("'{'"),
            TokKind::RBrace => f.write_str("'}'"),
            TokKind::Comma => f.write_str("','"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokKind,
    column: usize,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

fn tokenize(source: &str) -> Result<Vec<Token>, SelectorError> {
    let err = |column: usize, message: String| SelectorError {
        column,
        message,
        text: source.to_owned(),
    };
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let two = |second: char| chars.get(i + 1) == Some(&second);
        let (kind, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '=' if two('=') => (TokKind::EqEq, 2),
            '!' if two('=') => (TokKind::NotEq, 2),
            '!' => (TokKind::Bang, 1),
            '&' if two('&') => (TokKind::AndAnd, 2),
            '|' if two('|') => (TokKind::OrOr, 2),
            '(' => (TokKind::LParen, 1),
            ')' => (TokKind::RParen, 1),
            '{' => (TokKind::LBrace, 1),
            '}' => (TokKind::RBrace, 1),
            ',' => (TokKind::Comma, 1),
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| err(column, "unterminated string".into()))?;
                let text: String = chars[i + 1..i + 1 + end].iter().collect();
                (TokKind::Str(text), end + 2)
            }
            c if is_key_char(c) => {
                let len = chars[i..].iter().take_while(|&&d| is_key_char(d)).count();
                (TokKind::Key(chars[i..i + len].iter().collect()), len)
            }
            '=' | '&' | '|' => {
                return Err(err(column, format!("'{c}' must be doubled ('{c}{c}')")));
            }
            other => return Err(err(column, format!("unexpected character {other:?}"))),
        };
        tokens.push(Token { kind, column });
        i += len;
    }
    Ok(tokens)
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn end_column(&self) -> usize {
        self.source.chars().count() + 1
    }

    fn error_at(&self, column: usize, message: String) -> SelectorError {
        SelectorError {
            column,
            message,
            text: self.source.to_owned(),
        }
    }

    /// An error at the next token (or the end of input), saying what was expected there.
    fn expected(&self, what: &str) -> SelectorError {
        match self.peek() {
            Some(tok) => self.error_at(tok.column, format!("expected {what}, found {}", tok.kind)),
            None => self.error_at(self.end_column(), format!("expected {what}, found the end")),
        }
    }

    fn eat(&mut self, kind: &TokKind) -> bool {
        if self.peek().map(|t| &t.kind) == Some(kind) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kind: TokKind) -> Result<(), SelectorError> {
        if self.eat(&kind) {
            Ok(())
        } else {
            Err(self.expected(&kind.to_string()))
        }
    }

    fn or(&mut self) -> Result<Expr, SelectorError> {
        let mut left = self.and()?;
        while self.eat(&TokKind::OrOr) {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SelectorError> {
        let mut left = self.unary()?;
        while self.eat(&TokKind::AndAnd) {
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SelectorError> {
        if self.eat(&TokKind::Bang) {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn key(&mut self) -> Result<String, SelectorError> {
        match self.peek().map(|t| t.kind.clone()) {
            Some(TokKind::Key(k)) => {
                self.at += 1;
                Ok(k)
            }
            _ => Err(self.expected("a label key")),
        }
    }

    fn value(&mut self) -> Result<String, SelectorError> {
        match self.peek().map(|t| t.kind.clone()) {
            Some(TokKind::Str(s)) => {
                self.at += 1;
                Ok(s)
            }
            _ => Err(self.expected("a quoted label value")),
        }
    }

    fn set(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        self.expect(TokKind::LBrace)?;
        let mut set = BTreeSet::new();
        if self.eat(&TokKind::RBrace) {
            return Ok(set);
        }
        loop {
            set.insert(self.value()?);
            if self.eat(&TokKind::RBrace) {
                return Ok(set);
            }
            if !self.eat(&TokKind::Comma) {
                return Err(self.expected("',' or '}'"));
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, SelectorError> {
        if self.eat(&TokKind::LParen) {
            let inner = self.or()?;
            self.expect(TokKind::RParen)?;
            return Ok(inner);
        }
        let key = self.key()?;
        let next = self.peek().map(|t| t.kind.clone());
        match (key.as_str(), next) {
            ("all", Some(TokKind::LParen)) => {
                self.at += 1;
                self.expect(TokKind::RParen)?;
                Ok(Expr::All)
            }
            ("has", Some(TokKind::LParen)) => {
                self.at += 1;
                let label = self.key()?;
                self.expect(TokKind::RParen)?;
                Ok(Expr::Has(label))
            }
            (_, Some(TokKind::EqEq)) => {
                self.at += 1;
                Ok(Expr::Eq(key, self.value()?))
            }
            (_, Some(TokKind::NotEq)) => {
                self.at += 1;
                Ok(Expr::Ne(key, self.value()?))
            }
            (_, Some(TokKind::Key(word))) if word == "in" => {
                self.at += 1;
                Ok(Expr::In(key, self.set()?))
            }
            (_, Some(TokKind::Key(word))) if word == "not" => {
                self.at += 1;
                match self.peek().map(|t| t.kind.clone()) {
                    Some(TokKind::Key(w)) if w == "in" => self.at += 1,
                    _ => return Err(self.expected("'in' after 'not'")),
                }
                Ok(Expr::NotIn(key, self.set()?))
            }
            _ => Err(self.expected(&format!("'==', '!=', 'in' or 'not in' after label '{key}'"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn evaluates_the_documented_examples() {
        let r1_edge = labels(&[("rack", "r1"), ("edge", "")]);
        let r1 = labels(&[("rack", "r1")]);
        let r2 = labels(&[("rack", "r2"), ("zone", "b")]);
        let none = labels(&[]);
        let cases: &[(&str, [bool; 4])] = &[
            ("all()", [true, true, true, true]),
            ("rack == 'r1' && has(edge)", [true, false, false, false]),
            ("rack != 'r1'", [false, false, true, true]),
            ("rack in {'r1', \"r2\"}", [true, true, true, false]),
            ("rack not in {'r1'}", [false, false, true, true]),
            ("!has(rack) || zone == 'b'", [false, false, true, true]),
            (
                "!(rack == 'r1' || rack == 'r2')",
                [false, false, false, true],
            ),
            (
                "has(edge) || rack == 'r2' && zone == 'b'",
                [true, false, true, false],
            ),
            ("rack in {}", [false, false, false, false]),
        ];
        for (source, expected) in cases {
            let sel = Selector::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
            let got = [&r1_edge, &r1, &r2, &none].map(|l| sel.matches(l));
            assert_eq!(&got, expected, "{source}");
            assert_eq!(sel.to_string(), *source);
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let sel = Selector::parse("a == '1' || b == '2' && c == '3'").unwrap();
        assert!(matches!(sel.expr(), Expr::Or(_, r) if matches!(**r, Expr::And(_, _))));
    }

    #[test]
    fn errors_carry_the_column() {
        let cases = [
            (
                "rack == ",
                9,
                "expected a quoted label value, found the end",
            ),
            ("rack = 'r1'", 6, "'=' must be doubled ('==')"),
            ("rack == 'r1' &&", 16, "expected a label key, found the end"),
            ("(rack == 'r1'", 14, "expected ')', found the end"),
            ("rack == 'r1)", 9, "unterminated string"),
            (
                "rack 'r1'",
                6,
                "expected '==', '!=', 'in' or 'not in' after label 'rack', found string \"r1\"",
            ),
            (
                "rack in {'a' 'b'}",
                14,
                "expected ',' or '}', found string \"b\"",
            ),
            ("has(rack) )", 11, "unexpected ')'"),
            ("rack == r1", 9, "expected a quoted label value, found 'r1'"),
            ("", 1, "expected a label key, found the end"),
            ("rack ~ 'x'", 6, "unexpected character '~'"),
        ];
        for (source, column, message) in cases {
            let err = Selector::parse(source).unwrap_err();
            assert_eq!(
                (err.column, err.message.as_str()),
                (column, message),
                "{source}"
            );
        }
        assert_eq!(
            Selector::parse("rack == ").unwrap_err().to_string(),
            "expected a quoted label value, found the end at column 9 of \"rack == \""
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn key() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["rack", "zone", "edge", "margay.io/role"])
                .prop_map(str::to_owned)
        }

        fn value() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["r1", "r2", "a", ""]).prop_map(str::to_owned)
        }

        /// Expressions with their source text (every binary operand parenthesised, so the
        /// text has one reading whatever the precedence).
        fn expr() -> impl Strategy<Value = (Expr, String)> {
            let leaf = prop_oneof![
                Just((Expr::All, "all()".to_owned())),
                key().prop_map(|k| (Expr::Has(k.clone()), format!("has({k})"))),
                (key(), value())
                    .prop_map(|(k, v)| (Expr::Eq(k.clone(), v.clone()), format!("{k} == '{v}'"))),
                (key(), value())
                    .prop_map(|(k, v)| (Expr::Ne(k.clone(), v.clone()), format!("{k} != \"{v}\""))),
                (key(), prop::collection::btree_set(value(), 0..3)).prop_map(|(k, set)| {
                    let text = set
                        .iter()
                        .map(|v| format!("'{v}'"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    (Expr::In(k.clone(), set), format!("{k} in {{{text}}}"))
                }),
                (key(), prop::collection::btree_set(value(), 0..3)).prop_map(|(k, set)| {
                    let text = set
                        .iter()
                        .map(|v| format!("'{v}'"))
                        .collect::<Vec<_>>()
                        .join(",");
                    (
                        Expr::NotIn(k.clone(), set),
                        format!("{k} not in {{{text}}}"),
                    )
                }),
            ];
            leaf.prop_recursive(4, 24, 2, |inner| {
                prop_oneof![
                    inner
                        .clone()
                        .prop_map(|(e, t)| (Expr::Not(Box::new(e)), format!("!({t})"))),
                    (inner.clone(), inner.clone()).prop_map(|((a, ta), (b, tb))| {
                        (
                            Expr::And(Box::new(a), Box::new(b)),
                            format!("({ta}) && ({tb})"),
                        )
                    }),
                    (inner.clone(), inner).prop_map(|((a, ta), (b, tb))| {
                        (
                            Expr::Or(Box::new(a), Box::new(b)),
                            format!("({ta})||({tb})"),
                        )
                    }),
                ]
            })
        }

        fn label_sets() -> impl Strategy<Value = Vec<BTreeMap<String, String>>> {
            prop::collection::vec(prop::collection::btree_map(key(), value(), 0..4), 1..6)
        }

        proptest! {
            /// Printed expressions parse back to the same tree, which selects the same nodes.
            #[test]
            fn generated_expressions_parse_back((expr, text) in expr(), nodes in label_sets()) {
                let parsed = Selector::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(parsed.expr(), &expr);
                for labels in &nodes {
                    prop_assert_eq!(parsed.matches(labels), expr.matches(labels));
                }
            }

            /// Any input either parses or fails with a column inside the input (or just past it).
            #[test]
            fn arbitrary_input_never_panics(source in "[a-z()!&|=' {},.]{0,40}|\\PC{0,40}") {
                if let Err(e) = Selector::parse(&source) {
                    prop_assert!(e.column >= 1 && e.column <= source.chars().count() + 1, "{e}");
                }
            }
        }
    }
}
