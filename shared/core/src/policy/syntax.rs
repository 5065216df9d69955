//! Lexer and recursive-descent parser: policy text to statements (no meaning yet).
//!
//! Hand-written for speed and for messages that name the offending token and what was
//! expected. The grammar has one level of braces and no recursion, so nesting cannot be
//! abused; every loop consumes a token, so no input can make it hang. After an error
//! the parser skips to the end of the statement (the next `;` outside braces, or a
//! statement keyword that starts a line) and goes on, so one run reports every mistake.

use super::diag::{Diagnostic, Pos, Severity};

/// The reserved object name meaning "the subject's own type" (any case).
pub const SELF: &str = "self";

/// At most this many errors are reported; then parsing stops.
pub(crate) const MAX_ERRORS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Word,
    Number,
    Path,
    Semi,
    LBrace,
    RBrace,
    Colon,
    Comma,
    Dash,
    Eof,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    kind: Tok,
    text: &'a str,
    pos: Pos,
    offset: usize,
    /// First token on its line.
    line_start: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Comment<'a> {
    text: &'a str,
    pos: Pos,
    offset: usize,
    /// Offset of the end of its line (the `\n` or the end of the text).
    end: usize,
    /// A token precedes it on its line.
    inline: bool,
}

/// A name or word as written, with its position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Name<'a> {
    pub text: &'a str,
    pub pos: Pos,
}

/// A value after `ability:`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RawValue<'a> {
    Range(u64, u64),
    Name(&'a str),
}

/// One ability of an `allow ... self:ability` statement.
#[derive(Debug, Clone)]
pub(crate) struct AbilityItem<'a> {
    pub name: Name<'a>,
    pub values: Vec<(RawValue<'a>, Pos)>,
    pub cid: usize,
}

/// A statement, as written.
#[derive(Debug, Clone)]
pub(crate) enum Stmt<'a> {
    Type {
        name: Name<'a>,
        attrs: Vec<Name<'a>>,
        cid: usize,
    },
    Attribute {
        name: Name<'a>,
        cid: usize,
    },
    Ability {
        name: Name<'a>,
        cid: usize,
    },
    AllowAbility {
        subjects: Vec<Name<'a>>,
        nonroot: bool,
        unlock: bool,
        noinherit: bool,
        items: Vec<AbilityItem<'a>>,
    },
    AllowConnect {
        subjects: Vec<Name<'a>>,
        objects: Vec<Name<'a>>,
        cid: usize,
    },
    PathRule {
        link: bool,
        subject: Name<'a>,
        paths: Vec<(Name<'a>, usize)>,
    },
    Derive {
        parent: Name<'a>,
        program: Name<'a>,
        derived: Name<'a>,
        cid: usize,
    },
}

/// What the parser produced.
pub(crate) struct Syntax<'a> {
    pub stmts: Vec<Stmt<'a>>,
    /// Comment lines per `cid`.
    pub comments: Vec<Vec<&'a str>>,
    pub header: Vec<&'a str>,
    pub trailing: Vec<&'a str>,
    pub diags: Vec<Diagnostic>,
}

const STATEMENT_KEYWORDS: [&str; 7] =
    ["type", "attribute", "ability", "allow", "allow_attach", "allow_link", "derive_type"];

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b'.')
}

fn is_path_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace() || b.is_ascii_control() || matches!(b, b';' | b'{' | b'}' | b'#'))
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    i: usize,
    line: u32,
    col: u32,
    line_has_token: bool,
    comments: Vec<Comment<'a>>,
    diags: Vec<Diagnostic>,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            i: 0,
            line: 1,
            col: 1,
            line_has_token: false,
            comments: Vec::new(),
            diags: Vec::new(),
        }
    }

    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            let b = self.bytes[self.i];
            self.i += 1;
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
                self.line_has_token = false;
            } else if b & 0xC0 != 0x80 {
                self.col += 1;
            }
        }
    }

    /// Advances over a token known to hold no newline.
    fn advance_token(&mut self, end: usize) {
        let n = self.bytes[self.i..end].iter().filter(|&&b| b & 0xC0 != 0x80).count();
        self.col += n as u32;
        self.i = end;
    }

    fn span_while(&self, from: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut j = from;
        while j < self.bytes.len() && pred(self.bytes[j]) {
            j += 1;
        }
        j
    }

    /// The next token (comments are collected on the way); `Eof` at the end, forever.
    fn next_token(&mut self) -> Token<'a> {
        while self.i < self.bytes.len() {
            let b = self.bytes[self.i];
            let pos = Pos { line: self.line, col: self.col };
            let start = self.i;
            if b == b'\n' || b == b' ' || b == b'\t' || b == b'\r' || b == 0x0b || b == 0x0c {
                self.advance(1);
                continue;
            }
            if b == b'#' {
                let end = self.src[start..].find('\n').map_or(self.bytes.len(), |n| start + n);
                let raw = &self.src[start + 1..end];
                let text = raw.strip_prefix(' ').unwrap_or(raw).trim_end();
                self.comments.push(Comment { text, pos, offset: start, end, inline: self.line_has_token });
                self.advance_token(end);
                continue;
            }
            let (kind, end) = match b {
                b';' => (Tok::Semi, start + 1),
                b'{' => (Tok::LBrace, start + 1),
                b'}' => (Tok::RBrace, start + 1),
                b':' => (Tok::Colon, start + 1),
                b',' => (Tok::Comma, start + 1),
                b'-' => (Tok::Dash, start + 1),
                b'/' | b'*' => (Tok::Path, self.span_while(start, is_path_byte)),
                b if is_word_start(b) => (Tok::Word, self.span_while(start, is_word_byte)),
                b if b.is_ascii_digit() => {
                    (Tok::Number, self.span_while(start, |c| c.is_ascii_alphanumeric() || c == b'_'))
                }
                _ => {
                    let c = self.src[start..].chars().next().expect("in bounds");
                    let shown = if c.is_control() || c.is_whitespace() {
                        format!("unexpected character U+{:04X}", c as u32)
                    } else {
                        format!("unexpected character `{c}`")
                    };
                    self.diags.push(Diagnostic { severity: Severity::Error, pos, message: shown });
                    self.advance(c.len_utf8());
                    continue;
                }
            };
            let line_start = !self.line_has_token;
            self.line_has_token = true;
            self.advance_token(end);
            return Token { kind, text: &self.src[start..end], pos, offset: start, line_start };
        }
        let pos = Pos { line: self.line, col: self.col };
        Token { kind: Tok::Eof, text: "", pos, offset: self.bytes.len(), line_start: true }
    }
}

/// Parses `src` into statements and diagnostics.
pub(crate) fn parse(src: &str) -> Syntax<'_> {
    let mut lexer = Lexer::new(src);
    let cur = lexer.next_token();
    let mut p = Parser {
        lexer,
        cur,
        prev_line: 1,
        n: 0,
        ci: 0,
        // Rough sizes from the text length, so the vectors do not grow by copying.
        sets: Vec::with_capacity(src.len() / 24),
        last_item: None,
        stmts: Vec::with_capacity(src.len() / 64),
        diags: Vec::new(),
        header: Vec::new(),
    };
    p.take_header(src);
    p.statements();
    let trailing = p.drain_rest();
    let mut diags = p.diags;
    diags.append(&mut p.lexer.diags);
    diags.sort_by_key(|d| d.pos);
    Syntax { stmts: p.stmts, comments: p.sets, header: p.header, trailing, diags }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The current token.
    cur: Token<'a>,
    /// Line of the token before it.
    prev_line: u32,
    /// Tokens consumed so far (to see progress).
    n: usize,
    /// Comments of `lexer.comments` already attached.
    ci: usize,
    sets: Vec<Vec<&'a str>>,
    /// The comment set of the item that ended last, and the line it ended on.
    last_item: Option<(usize, u32)>,
    stmts: Vec<Stmt<'a>>,
    diags: Vec<Diagnostic>,
    header: Vec<&'a str>,
}

/// Marks an error already reported; the caller recovers.
struct Reported;

type PResult<T> = Result<T, Reported>;

fn describe(t: &Token<'_>) -> String {
    match t.kind {
        Tok::Eof => "end of file".to_string(),
        _ => format!("`{}`", t.text),
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        &self.cur
    }

    fn bump(&mut self) -> Token<'a> {
        let t = self.cur;
        if t.kind != Tok::Eof {
            self.n += 1;
            self.prev_line = t.pos.line;
            self.cur = self.lexer.next_token();
        }
        t
    }

    fn at(&self, kind: Tok) -> bool {
        self.peek().kind == kind
    }

    fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.severity == Severity::Error).count()
    }

    fn error(&mut self, pos: Pos, message: String) -> Reported {
        self.diags.push(Diagnostic { severity: Severity::Error, pos, message });
        Reported
    }

    fn warn(&mut self, pos: Pos, message: String) {
        self.diags.push(Diagnostic { severity: Severity::Warning, pos, message });
    }

    /// Reports "expected X, found Y" at the current token.
    fn expected(&mut self, what: &str) -> Reported {
        let t = *self.peek();
        self.error(t.pos, format!("expected {what}, found {}", describe(&t)))
    }

    fn expect(&mut self, kind: Tok, what: &str) -> PResult<Token<'a>> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_word(&mut self, what: &str) -> PResult<Name<'a>> {
        let t = self.expect(Tok::Word, what)?;
        Ok(Name { text: t.text, pos: t.pos })
    }

    fn is_statement_start(t: &Token<'_>) -> bool {
        t.kind == Tok::Word
            && t.line_start
            && STATEMENT_KEYWORDS.iter().any(|k| t.text.eq_ignore_ascii_case(k))
    }

    /// The initial comment run is the header when a blank line follows it.
    fn take_header(&mut self, src: &str) {
        let first_tok = self.cur.offset;
        let mut n = 0;
        while n < self.lexer.comments.len()
            && self.lexer.comments[n].offset < first_tok
            && (n == 0 || self.lexer.comments[n].pos.line == self.lexer.comments[n - 1].pos.line + 1)
        {
            n += 1;
        }
        if n == 0 {
            return;
        }
        let after = &src[self.lexer.comments[n - 1].end..];
        let blank_follows = after
            .strip_prefix('\n')
            .and_then(|rest| rest.find('\n').map(|k| &rest[..k]))
            .is_some_and(|line| line.bytes().all(|b| b == b' ' || b == b'\t' || b == b'\r'));
        if blank_follows {
            self.header = self.lexer.comments[..n].iter().map(|c| c.text).collect();
            self.ci = n;
        }
    }

    /// A new comment set for an item starting at the current token: the comments before
    /// it, except an inline one that belongs to the item ending on its line.
    fn leading_comments(&mut self) -> usize {
        let before = self.peek().offset;
        let cid = self.sets.len();
        self.sets.push(Vec::new());
        while self.ci < self.lexer.comments.len() && self.lexer.comments[self.ci].offset < before {
            let c = self.lexer.comments[self.ci];
            self.ci += 1;
            match self.last_item {
                Some((last, line)) if c.inline && line == c.pos.line => self.sets[last].push(c.text),
                _ => self.sets[cid].push(c.text),
            }
        }
        cid
    }

    /// Records that the item with comment set `cid` ended at the previous token.
    fn item_done(&mut self, cid: usize) {
        self.last_item = Some((cid, self.prev_line));
    }

    /// Comments after the last item: inline ones go to it, the rest are trailing.
    fn drain_rest(&mut self) -> Vec<&'a str> {
        let mut rest = Vec::new();
        while self.ci < self.lexer.comments.len() {
            let c = self.lexer.comments[self.ci];
            self.ci += 1;
            match self.last_item {
                Some((last, line)) if c.inline && line == c.pos.line => self.sets[last].push(c.text),
                _ => rest.push(c.text),
            }
        }
        rest
    }

    fn statements(&mut self) {
        while !self.at(Tok::Eof) {
            if self.error_count() >= MAX_ERRORS {
                let pos = self.peek().pos;
                self.error(pos, format!("too many errors ({MAX_ERRORS}); stopping here"));
                return;
            }
            let start = self.n;
            if self.statement().is_err() {
                self.recover(start);
            }
        }
    }

    /// Skips to the end of a broken statement.
    fn recover(&mut self, start: usize) {
        let mut depth = 0usize;
        loop {
            let t = *self.peek();
            match t.kind {
                Tok::Eof => return,
                _ if self.n > start && Self::is_statement_start(&t) => return,
                Tok::Semi if depth == 0 => {
                    self.bump();
                    return;
                }
                Tok::LBrace => depth += 1,
                Tok::RBrace => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.bump();
        }
    }

    fn end_statement(&mut self, after: &str) -> PResult<()> {
        self.expect(Tok::Semi, &format!("`;` after {after}")).map(|_| ())
    }

    fn statement(&mut self) -> PResult<()> {
        let t = *self.peek();
        match t.kind {
            Tok::Semi => {
                self.bump();
                self.warn(t.pos, "empty statement `;` ignored".into());
                Ok(())
            }
            Tok::RBrace => {
                self.bump();
                if self.at(Tok::Semi) {
                    self.bump();
                    self.warn(t.pos, "stray `};` ignored (QNX's own io_pkt example ends in `};};`)".into());
                    Ok(())
                } else {
                    Err(self.error(t.pos, "unexpected `}` outside a block".into()))
                }
            }
            Tok::Word => {
                let kw = t.text.to_ascii_lowercase();
                match kw.as_str() {
                    "type" => self.type_statement(),
                    "attribute" | "ability" => {
                        let cid = self.leading_comments();
                        self.bump();
                        let name = self.expect_word(&format!("{kw} name"))?;
                        self.end_statement(&format!("the {kw} name"))?;
                        self.item_done(cid);
                        self.stmts.push(if kw == "attribute" {
                            Stmt::Attribute { name, cid }
                        } else {
                            Stmt::Ability { name, cid }
                        });
                        Ok(())
                    }
                    "allow" => self.allow_statement(),
                    "allow_attach" | "allow_link" => self.path_statement(kw == "allow_link"),
                    "derive_type" => self.derive_statement(),
                    _ => Err(self.error(
                        t.pos,
                        format!(
                            "unknown statement `{}`: expected `type`, `attribute`, `ability`, `allow`, \
                             `allow_attach`, `allow_link` or `derive_type`",
                            t.text
                        ),
                    )),
                }
            }
            _ => Err(self.expected("a statement")),
        }
    }

    fn type_statement(&mut self) -> PResult<()> {
        let cid = self.leading_comments();
        self.bump();
        let name = self.expect_word("a type name")?;
        let mut attrs = Vec::new();
        while self.at(Tok::Comma) {
            self.bump();
            attrs.push(self.expect_word("an attribute name after `,`")?);
        }
        if !self.at(Tok::Semi) {
            return Err(self.expected("`,` or `;` after the type name"));
        }
        self.bump();
        self.item_done(cid);
        self.stmts.push(Stmt::Type { name, attrs, cid });
        Ok(())
    }

    /// `NAME` or `{ NAME... }`.
    fn name_set(&mut self, what: &str) -> PResult<Vec<Name<'a>>> {
        if self.at(Tok::LBrace) {
            let open = self.bump();
            let mut names = Vec::new();
            while self.at(Tok::Word) {
                let t = self.bump();
                names.push(Name { text: t.text, pos: t.pos });
            }
            if names.is_empty() {
                return Err(self.expected(&format!("{what} inside `{{ }}`")));
            }
            if !self.at(Tok::RBrace) {
                let msg = format!("`}}` to close the set opened at {}:{}", open.pos.line, open.pos.col);
                return Err(self.expected(&msg));
            }
            self.bump();
            Ok(names)
        } else {
            Ok(vec![self.expect_word(what)?])
        }
    }

    fn allow_statement(&mut self) -> PResult<()> {
        let cid = self.leading_comments();
        self.bump();
        let subjects = self.name_set("a subject type")?;
        let objects = self.name_set("`self` or a type")?;
        self.expect(Tok::Colon, "`:` between the object and its class (`self:ability`)")?;
        let class = self.expect_word("`ability` or `channel` after `:`")?;
        if class.text.eq_ignore_ascii_case("channel") {
            let perm = self.expect_word("`connect` after `channel`")?;
            if !perm.text.eq_ignore_ascii_case("connect") {
                return Err(self
                    .error(perm.pos, format!("expected `connect` after `channel`, found `{}`", perm.text)));
            }
            self.end_statement("`channel connect`")?;
            self.item_done(cid);
            self.stmts.push(Stmt::AllowConnect { subjects, objects, cid });
            return Ok(());
        }
        if !class.text.eq_ignore_ascii_case("ability") {
            return Err(self.error(
                class.pos,
                format!("expected `ability` or `channel` after `:`, found `{}`", class.text),
            ));
        }
        if objects.len() != 1 || !objects[0].text.eq_ignore_ascii_case(SELF) {
            return Err(self.error(
                objects[0].pos,
                format!("expected `self` before `:ability` (abilities are granted to the subject itself), found `{}`", objects[0].text),
            ));
        }
        let (nonroot, unlock, noinherit);
        let mut items = Vec::new();
        if self.at(Tok::LBrace) {
            let mut flags = [("nonroot", false), ("unlock", false), ("noinherit", false)];
            self.block(cid, "ability", |p, t, el_cid| {
                if t.kind != Tok::Word {
                    return Err(p.expected("an ability name, `nonroot`, `unlock`, `noinherit` or `}`"));
                }
                if let Some(flag) = flags.iter_mut().find(|(k, _)| t.text.eq_ignore_ascii_case(k)) {
                    p.bump();
                    if flag.1 {
                        p.warn(t.pos, format!("`{}` repeated", flag.0));
                    }
                    flag.1 = true;
                    return Ok(false);
                }
                let cid = el_cid(p);
                items.push(p.ability_item(cid)?);
                p.item_done(cid);
                Ok(true)
            })?;
            [nonroot, unlock, noinherit] = flags.map(|(_, on)| on);
        } else {
            let t = *self.peek();
            if t.kind == Tok::Word
                && ["nonroot", "unlock", "noinherit"].iter().any(|k| t.text.eq_ignore_ascii_case(k))
            {
                return Err(self.error(
                    t.pos,
                    format!("`{}` may only appear inside a `{{ }}` block of abilities", t.text),
                ));
            }
            let item = self.ability_item(cid)?;
            self.end_statement("the ability")?;
            self.item_done(cid);
            items.push(item);
            (nonroot, unlock, noinherit) = (false, false, false);
        }
        self.stmts.push(Stmt::AllowAbility { subjects, nonroot, unlock, noinherit, items });
        Ok(())
    }

    /// Parses `{ element... };` from the `{`. `element` is called at each token that is
    /// not `}`; it consumes an element (or a keyword) and says whether it was an element.
    /// It gets a function giving the element's comment set (the statement's leading
    /// comments go to the first element). After a broken element the block goes on at
    /// the next line.
    fn block(
        &mut self,
        stmt_cid: usize,
        what: &str,
        mut element: impl FnMut(&mut Self, Token<'a>, &mut dyn FnMut(&mut Self) -> usize) -> PResult<bool>,
    ) -> PResult<()> {
        let open = self.bump();
        let mut first_cid = Some(stmt_cid);
        let mut count = 0;
        loop {
            let t = *self.peek();
            let closing = match t.kind {
                Tok::RBrace => {
                    self.bump();
                    break;
                }
                Tok::Eof | Tok::Semi => "`}`",
                _ if Self::is_statement_start(&t) => "`};`",
                _ => "",
            };
            if !closing.is_empty() {
                let msg =
                    format!("{closing} to close the block opened at {}:{}", open.pos.line, open.pos.col);
                return Err(self.expected(&msg));
            }
            let mut el_cid = |p: &mut Self| {
                let cid = p.leading_comments();
                if let Some(c) = first_cid.take() {
                    let lead = std::mem::take(&mut p.sets[c]);
                    p.sets[cid].splice(0..0, lead);
                }
                cid
            };
            match element(self, t, &mut el_cid) {
                Ok(true) => count += 1,
                Ok(false) => {}
                Err(Reported) => {
                    count += 1;
                    self.recover_item();
                }
            }
        }
        if count == 0 {
            return Err(self.error(open.pos, format!("empty {what} block: expected at least one {what}")));
        }
        self.end_statement("`}` (blocks end in `};`)")
    }

    /// Skips a broken block element: to the next line, `}` or `;`.
    fn recover_item(&mut self) {
        let start = self.n;
        loop {
            let t = *self.peek();
            if matches!(t.kind, Tok::RBrace | Tok::Semi | Tok::Eof) || (self.n > start && t.line_start) {
                return;
            }
            self.bump();
        }
    }

    /// `name[:value,...]`.
    fn ability_item(&mut self, cid: usize) -> PResult<AbilityItem<'a>> {
        let name = self.expect_word("an ability name")?;
        let mut values = Vec::new();
        if self.at(Tok::Colon) {
            self.bump();
            loop {
                let t = *self.peek();
                match t.kind {
                    Tok::Number => {
                        self.bump();
                        let lo = self.number(&t)?;
                        let hi = if self.at(Tok::Dash) {
                            self.bump();
                            if self.at(Tok::Number) {
                                let h = self.bump();
                                self.number(&h)?
                            } else {
                                u64::MAX
                            }
                        } else {
                            lo
                        };
                        values.push((RawValue::Range(lo, hi), t.pos));
                    }
                    Tok::Word => {
                        self.bump();
                        values.push((RawValue::Name(t.text), t.pos));
                    }
                    Tok::Dash => {
                        return Err(self.error(
                            t.pos,
                            "expected a number or type name, found `-` (negative values are not supported)"
                                .into(),
                        ))
                    }
                    _ => return Err(self.expected(&format!("a number or type name after `{}:`", name.text))),
                }
                if !self.at(Tok::Comma) {
                    break;
                }
                self.bump();
            }
        }
        Ok(AbilityItem { name, values, cid })
    }

    fn number(&mut self, t: &Token<'_>) -> PResult<u64> {
        parse_number(t.text).map_err(|why| self.error(t.pos, format!("`{}` {why}", t.text)))
    }

    fn path_statement(&mut self, link: bool) -> PResult<()> {
        let kw = if link { "allow_link" } else { "allow_attach" };
        let cid = self.leading_comments();
        self.bump();
        let subject = self.expect_word(&format!("a type after `{kw}`"))?;
        let mut paths = Vec::new();
        if self.at(Tok::LBrace) {
            self.block(cid, "path", |p, t, el_cid| {
                if t.kind != Tok::Path {
                    return Err(p.expected("a path starting with `/` or `}`"));
                }
                let cid = el_cid(p);
                p.bump();
                p.item_done(cid);
                paths.push((Name { text: t.text, pos: t.pos }, cid));
                Ok(true)
            })?;
        } else {
            let t = self.expect(Tok::Path, "a path starting with `/`, or `{`")?;
            self.end_statement("the path")?;
            self.item_done(cid);
            paths.push((Name { text: t.text, pos: t.pos }, cid));
        }
        self.stmts.push(Stmt::PathRule { link, subject, paths });
        Ok(())
    }

    fn derive_statement(&mut self) -> PResult<()> {
        let cid = self.leading_comments();
        self.bump();
        let parent = self.expect_word("the parent type after `derive_type`")?;
        let t = *self.peek();
        if !matches!(t.kind, Tok::Word | Tok::Path) {
            return Err(self.expected("a program name or path"));
        }
        self.bump();
        let program = Name { text: t.text, pos: t.pos };
        let derived = self.expect_word("the derived type")?;
        self.end_statement("the derived type")?;
        self.item_done(cid);
        self.stmts.push(Stmt::Derive { parent, program, derived, cid });
        Ok(())
    }
}

/// Whether `s` reads back as one word or one path token (what a `derive_type` program
/// name must be).
pub(crate) fn is_single_token(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(&c) if is_word_start(c) => b.iter().all(|&c| is_word_byte(c)),
        Some(b'/' | b'*') => b.iter().all(|&c| is_path_byte(c)),
        _ => false,
    }
}

/// A number as C writes it: `0x1f` hexadecimal, `017` octal, `15` decimal.
pub(crate) fn parse_number(text: &str) -> Result<u64, &'static str> {
    let (digits, radix) = if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (h, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(match radix {
            16 => "is not a hexadecimal number",
            8 => "is not an octal number (a leading 0 means octal)",
            _ => "is not a number",
        });
    }
    u64::from_str_radix(digits, radix).map_err(|_| "is too large (the largest value is 0xffffffffffffffff)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_c_notation() {
        assert_eq!(parse_number("0x1200000"), Ok(0x1200000));
        assert_eq!(parse_number("017"), Ok(15));
        assert_eq!(parse_number("0"), Ok(0));
        assert_eq!(parse_number("23"), Ok(23));
        assert!(parse_number("0x").is_err());
        assert!(parse_number("09").is_err());
        assert!(parse_number("12ab").is_err());
        assert!(parse_number("18446744073709551616").is_err());
        assert_eq!(parse_number("0xffffffffffffffff"), Ok(u64::MAX));
    }

    #[test]
    fn comments_attach_to_the_next_item_inline_ones_to_their_line() {
        let s = parse("# head\n\n# about a\ntype a_t; # still a\n# about b\ntype b_t;\n# tail\n");
        assert!(s.diags.is_empty(), "{:?}", s.diags);
        assert_eq!(s.header, vec!["head"]);
        assert_eq!(s.comments[0], vec!["about a", "still a"]);
        assert_eq!(s.comments[1], vec!["about b"]);
        assert_eq!(s.trailing, vec!["tail"]);
    }
}
