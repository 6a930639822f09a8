//! A pure-Rust reader for static bash fragments (dkms.conf, framework.conf).
//!
//! It claims only what it can evaluate exactly as bash would: blank lines,
//! comments, `NAME=word`, `NAME[N]=word`, `NAME=(words)`, `export NAME=word`,
//! with single/double quotes, backslash escapes, line continuations and
//! `$var`/`${var}` expansion of variables that are known (passed in by the
//! caller) or were assigned earlier in the same file. Anything else is
//! [`NotStatic`]: in strict mode the caller hands the file to bash; in lenient
//! mode (framework.conf, where code must have no effect) the statement is
//! skipped and reading continues.

use std::collections::BTreeMap;

use super::{NotStatic, RawConf};

/// Largest array index the reader claims (bash accepts more; nobody needs it).
const MAX_INDEX: usize = 1_000_000;

/// Deepest nesting of `$(`, `${` and `"` the lenient skipper follows.
const MAX_NESTING: usize = 100;

/// Variables bash gives a special meaning: assigning them changes how bash
/// itself behaves, so a file that does is left to bash.
const SPECIAL_VARS: &[&str] = &[
    "IFS",
    "PATH",
    "CDPATH",
    "RANDOM",
    "SRANDOM",
    "SECONDS",
    "LINENO",
    "HOSTNAME",
    "HOSTTYPE",
    "UID",
    "EUID",
    "PPID",
    "SHELLOPTS",
    "GROUPS",
    "FUNCNAME",
    "DIRSTACK",
    "PWD",
    "OLDPWD",
    "OPTIND",
    "OPTARG",
    "OPTERR",
    "HISTCMD",
    "EPOCHSECONDS",
    "EPOCHREALTIME",
    "PIPESTATUS",
    "MACHTYPE",
    "OSTYPE",
    "SHLVL",
    "HOME",
    "ENV",
    "POSIXLY_CORRECT",
    "GLOBIGNORE",
    "TMOUT",
    "PS1",
    "PS2",
    "PS4",
    "LANG",
    "COLUMNS",
    "LINES",
    "_",
];

/// Read `text` as a static bash fragment.
///
/// `known` holds variables in scope before the file runs (upstream's
/// ConfContext variables, directives from earlier files); the environment is
/// never consulted. The result holds every variable the file assigned, as
/// bash arrays, with one trailing `\r` stripped from each value (upstream's
/// `safe_source` does that).
///
/// In strict mode the first construct the reader does not claim ends reading
/// with `Err`. In `lenient` mode such a statement is skipped without effect;
/// only a broken quote or unterminated array ends reading with `Err`.
pub fn read_static(
    text: &str,
    known: &BTreeMap<String, String>,
    lenient: bool,
) -> Result<RawConf, NotStatic> {
    // bash marks quoting internally with \x01 and \x7f and mangles them in
    // some quoted contexts; leave any file holding them to bash itself.
    if !lenient {
        if let Some(at) = text.find(['\u{1}', '\u{7f}']) {
            return Err(NotStatic {
                line: 1 + text[..at].matches('\n').count(),
                reason: "a \\x01 or \\x7f character (bash's internal quoting marks)".into(),
            });
        }
    }
    let mut p = Parser {
        s: text.chars().collect(),
        pos: 0,
        known,
        vars: BTreeMap::new(),
        lenient,
        nesting: 0,
    };
    p.run().map_err(|f| {
        let (pos, reason) = match f {
            Fail::Code(pos, r) | Fail::Broken(pos, r) => (pos, r),
        };
        NotStatic {
            line: p.line_at(pos),
            reason,
        }
    })?;
    let mut raw = RawConf::default();
    for (name, arr) in p.vars {
        if arr.is_empty() {
            continue;
        }
        let arr = arr
            .into_iter()
            .map(|(i, mut v)| {
                if v.ends_with('\r') {
                    v.pop();
                }
                (i, v)
            })
            .collect();
        raw.vars.insert(name, arr);
    }
    Ok(raw)
}

/// Why parsing stopped: code the reader does not claim (skippable in lenient
/// mode) or a broken file (never skippable). The position is a char offset.
enum Fail {
    Code(usize, String),
    Broken(usize, String),
}

/// Where a word appears: this decides splitting and empty-word removal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// `NAME=word`: no splitting, no globbing.
    Scalar,
    /// `export NAME=word`: bash may split there; refuse anything that would.
    Export,
    /// An element of `NAME=( ... )`: unquoted expansions split and glob.
    Element,
}

/// One piece of a word before expansion.
enum Seg {
    /// Literal text (quoted or not).
    Lit(String),
    /// `$name` / `${name}`, and whether it was inside double quotes.
    Var {
        name: String,
        quoted: bool,
        pos: usize,
    },
}

/// A word: its pieces and whether any part was quoted (a quoted empty word
/// survives in an array; an unquoted empty expansion does not).
struct Word {
    segs: Vec<Seg>,
    quoted: bool,
}

/// One assignment of a statement.
enum Assign {
    Scalar {
        name: String,
        index: usize,
        word: Word,
        ctx: Ctx,
    },
    Array {
        name: String,
        words: Vec<Word>,
    },
}

struct Parser<'a> {
    s: Vec<char>,
    pos: usize,
    known: &'a BTreeMap<String, String>,
    vars: BTreeMap<String, BTreeMap<usize, String>>,
    lenient: bool,
    /// Depth of nested quotes/substitutions being skipped (bounded).
    nesting: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Characters that end an unquoted word and start an operator.
fn is_operator(c: char) -> bool {
    matches!(c, ';' | '&' | '|' | '<' | '>' | '(' | ')')
}

/// Where the lenient skipping of one statement stands.
#[derive(Default)]
struct Skipping {
    /// Compound commands open (`if`, `case`, the loops, `{`).
    depth: i32,
    /// Parentheses open (subshells, function definitions).
    parens: i32,
    /// The next word is in command position, where keywords count.
    cmd_pos: bool,
    /// The last word was `function`: the next one is its name.
    after_function: bool,
    /// Here-documents (delimiter, tabs stripped) whose bodies start at the
    /// next newline.
    heredocs: Vec<(String, bool)>,
}

impl Skipping {
    /// Inside a compound command or parentheses: a newline or a `;` does
    /// not end the statement.
    fn open(&self) -> bool {
        self.depth > 0 || self.parens > 0
    }

    /// A whole word in command position: a keyword opens or closes a
    /// compound command, and some keep the next word in command position.
    fn command_word(&mut self, word: &str) {
        match word {
            "if" | "case" | "for" | "while" | "until" | "select" | "{" => self.depth += 1,
            "fi" | "esac" | "done" | "}" => self.depth = (self.depth - 1).max(0),
            _ => {}
        }
        self.cmd_pos = matches!(
            word,
            "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{" | "time"
        );
        self.after_function = word == "function";
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.s.get(self.pos + off).copied()
    }

    fn line_at(&self, pos: usize) -> usize {
        1 + self.s[..pos.min(self.s.len())]
            .iter()
            .filter(|&&c| c == '\n')
            .count()
    }

    fn code<T>(&self, reason: impl Into<String>) -> Result<T, Fail> {
        Err(Fail::Code(self.pos, reason.into()))
    }

    /// Skip blanks and backslash-newline continuations.
    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(c) if is_blank(c) => self.pos += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.pos += 2,
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                return;
            }
            self.pos += 1;
        }
    }

    fn run(&mut self) -> Result<(), Fail> {
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Ok(()),
                Some('\n') => {
                    self.pos += 1;
                    continue;
                }
                Some('#') => {
                    self.skip_comment();
                    continue;
                }
                _ => {}
            }
            let start = self.pos;
            let result = self.statement().and_then(|assigns| self.apply(assigns));
            match result {
                Ok(()) => {}
                Err(Fail::Code(pos, reason)) => {
                    if !self.lenient {
                        return Err(Fail::Code(pos, reason));
                    }
                    log::debug!(
                        "skipping non-static statement at line {}: {reason}",
                        self.line_at(pos)
                    );
                    self.pos = start;
                    self.skip_statement()?;
                }
                Err(broken) => return Err(broken),
            }
        }
    }

    /// Parse one statement of assignments up to its end (newline, EOF, a
    /// comment, or `;` in lenient mode), without applying anything.
    fn statement(&mut self) -> Result<Vec<Assign>, Fail> {
        // A line holding only a carriage return (CRLF files): bash tries to run
        // a command named "\r", fails on stderr, and nothing changes.
        if self.peek() == Some('\r') && matches!(self.peek_at(1), None | Some('\n')) {
            self.pos += 1;
            return Ok(Vec::new());
        }
        let mut export = false;
        if self.s[self.pos..].starts_with(&['e', 'x', 'p', 'o', 'r', 't'])
            && self.peek_at(6).is_some_and(is_blank)
        {
            self.pos += 6;
            self.skip_blanks();
            export = true;
            if matches!(self.peek(), None | Some('\n') | Some('#') | Some('-')) {
                return self.code("`export` without an assignment");
            }
        }
        let mut assigns = Vec::new();
        loop {
            assigns.extend(self.assignment(export)?);
            // The word must end at a blank, newline or EOF.
            match self.peek() {
                None | Some('\n') => return Ok(assigns),
                Some(c) if is_blank(c) => {}
                // After `NAME=(...)` a continuation glues what follows to the
                // same word (`A=(x)\<nl>B=1` is one odd word in bash).
                Some('\\') if self.peek_at(1) == Some('\n') => {
                    let mut q = self.pos;
                    while self.s.get(q) == Some(&'\\') && self.s.get(q + 1) == Some(&'\n') {
                        q += 2;
                    }
                    if !matches!(self.s.get(q), None | Some('\n') | Some(' ') | Some('\t')) {
                        return self.code("a line continuation right after `)`");
                    }
                }
                Some(';') => return self.semicolon(assigns),
                Some(c) if is_operator(c) => return self.code(format!("operator `{c}`")),
                Some(c) => return self.code(format!("unexpected `{c}`")),
            }
            self.skip_blanks();
            match self.peek() {
                None | Some('\n') => return Ok(assigns),
                Some('#') => {
                    self.skip_comment();
                    return Ok(assigns);
                }
                Some(';') => return self.semicolon(assigns),
                _ => {}
            }
        }
    }

    /// A `;` ends a statement in lenient mode; strict mode leaves it to bash.
    fn semicolon(&mut self, assigns: Vec<Assign>) -> Result<Vec<Assign>, Fail> {
        if !self.lenient || matches!(self.peek_at(1), Some(';') | Some('&')) {
            return self.code("`;`");
        }
        self.pos += 1;
        Ok(assigns)
    }

    /// Parse `NAME=...`, `NAME[N]=...`, `NAME=(...)` (or a bare `NAME` after
    /// `export`, which changes no value).
    fn assignment(&mut self, export: bool) -> Result<Option<Assign>, Fail> {
        let start = self.pos;
        if !self.peek().is_some_and(is_name_start) {
            return self.code("a command");
        }
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        let name: String = self.s[start..self.pos].iter().collect();
        let mut index = 0;
        let mut indexed = false;
        if self.peek() == Some('[') {
            self.pos += 1;
            let dstart = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            let digits: String = self.s[dstart..self.pos].iter().collect();
            if self.peek() != Some(']')
                || digits.is_empty()
                || (digits.len() > 1 && digits.starts_with('0'))
            {
                self.pos = dstart;
                return self.code("an array index that is not a plain decimal number");
            }
            index = match digits.parse::<usize>() {
                Ok(i) if i <= MAX_INDEX => i,
                _ => return self.code("a huge array index"),
            };
            self.pos += 1;
            indexed = true;
            // bash's `export` refuses `NAME[N]=` ("not a valid identifier").
            if export {
                self.pos = start;
                return self.code("an array element after `export`");
            }
        }
        match self.peek() {
            Some('=') => {}
            Some('+') if self.peek_at(1) == Some('=') => return self.code("`+=`"),
            None | Some('\n') | Some(' ') | Some('\t') if export && !indexed => {
                self.check_name(&name, start)?;
                return Ok(None);
            }
            _ => {
                self.pos = start;
                return self.code("a command");
            }
        }
        self.check_name(&name, start)?;
        self.pos += 1;
        if self.peek() == Some('(') {
            if indexed || export {
                return self.code("an array assignment to an element or after `export`");
            }
            self.pos += 1;
            let words = self.array_words()?;
            return Ok(Some(Assign::Array { name, words }));
        }
        let ctx = if export { Ctx::Export } else { Ctx::Scalar };
        let word = self.word()?;
        Ok(Some(Assign::Scalar {
            name,
            index,
            word,
            ctx,
        }))
    }

    /// Refuse names bash treats specially or that drive upstream's own logic.
    fn check_name(&self, name: &str, pos: usize) -> Result<(), Fail> {
        if SPECIAL_VARS.contains(&name)
            || name.starts_with("BASH")
            || name.starts_with("LC_")
            || name.starts_with("DKMS_DIRECTIVE")
            || name.starts_with("__dkms")
        {
            return Err(Fail::Code(
                pos,
                format!("an assignment to the special variable {name}"),
            ));
        }
        Ok(())
    }

    /// The words of `( ... )`, after the `(`; consumes the `)`.
    fn array_words(&mut self) -> Result<Vec<Word>, Fail> {
        let open = self.pos - 1;
        let mut words = Vec::new();
        loop {
            match self.peek() {
                None => return Err(Fail::Broken(open, "unterminated array `(`".into())),
                Some(c) if is_blank(c) || c == '\n' => self.pos += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.pos += 2,
                Some('#') => self.skip_comment(),
                Some(')') => {
                    self.pos += 1;
                    return Ok(words);
                }
                Some('[') => return self.code("`[index]=` inside an array"),
                Some(c) if is_operator(c) => {
                    return self.code(format!("operator `{c}` inside an array"))
                }
                Some(_) => {
                    words.push(self.word()?);
                    match self.peek() {
                        None | Some(')') | Some('\n') => {}
                        Some(c) if is_blank(c) => {}
                        Some('\\') if self.peek_at(1) == Some('\n') => {}
                        Some(c) => return self.code(format!("unexpected `{c}` inside an array")),
                    }
                }
            }
        }
    }

    /// Parse one word up to an unquoted blank, newline, operator or EOF.
    fn word(&mut self) -> Result<Word, Fail> {
        let mut w = Word {
            segs: Vec::new(),
            quoted: false,
        };
        let mut lit = String::new();
        while let Some(c) = self.peek() {
            match c {
                c if is_blank(c) || c == '\n' || is_operator(c) => break,
                '\\' => match self.peek_at(1) {
                    Some('\n') => self.pos += 2,
                    Some(n) => {
                        lit.push(n);
                        w.quoted = true;
                        self.pos += 2;
                    }
                    None => return self.code("a backslash at the end of the file"),
                },
                '\'' => {
                    let open = self.pos;
                    self.pos += 1;
                    w.quoted = true;
                    loop {
                        match self.peek() {
                            None => {
                                return Err(Fail::Broken(open, "unterminated single quote".into()))
                            }
                            Some('\'') => {
                                self.pos += 1;
                                break;
                            }
                            Some(ch) => {
                                lit.push(ch);
                                self.pos += 1;
                            }
                        }
                    }
                }
                '"' => {
                    w.quoted = true;
                    self.double_quoted(&mut w, &mut lit)?;
                }
                '$' => {
                    self.dollar(&mut w, &mut lit, false)?;
                }
                '`' => return self.code("a backtick command substitution"),
                '*' | '?' | '[' => return self.code(format!("an unquoted glob character `{c}`")),
                '~' => return self.code("an unquoted `~`"),
                '{' | '}' => return self.code(format!("an unquoted `{c}`")),
                _ => {
                    lit.push(c);
                    self.pos += 1;
                }
            }
        }
        if !lit.is_empty() {
            w.segs.push(Seg::Lit(lit));
        }
        Ok(w)
    }

    /// Parse `"..."` starting at the opening quote.
    fn double_quoted(&mut self, w: &mut Word, lit: &mut String) -> Result<(), Fail> {
        let open = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None => return Err(Fail::Broken(open, "unterminated double quote".into())),
                Some('"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some('\\') => match self.peek_at(1) {
                    Some('\n') => self.pos += 2,
                    Some(n @ ('$' | '`' | '"' | '\\')) => {
                        lit.push(n);
                        self.pos += 2;
                    }
                    _ => {
                        lit.push('\\');
                        self.pos += 1;
                    }
                },
                Some('$') => self.dollar(w, lit, true)?,
                Some('`') => return self.code("a backtick command substitution"),
                Some(c) => {
                    lit.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Parse an expansion starting at `$`.
    fn dollar(&mut self, w: &mut Word, lit: &mut String, quoted: bool) -> Result<(), Fail> {
        let at = self.pos;
        let name = match self.peek_at(1) {
            Some('{') => {
                self.pos += 2;
                let start = self.pos;
                if !self.peek().is_some_and(is_name_start) {
                    return self.code("a `${...}` form other than `${name}`");
                }
                while self.peek().is_some_and(is_name_char) {
                    self.pos += 1;
                }
                if self.peek() != Some('}') {
                    return self.code("a `${name...}` operator");
                }
                let name: String = self.s[start..self.pos].iter().collect();
                self.pos += 1;
                name
            }
            Some('(') => return self.code("a `$(...)` substitution"),
            Some('[') => return self.code("a `$[...]` arithmetic expansion"),
            // bash removes `\<newline>` before expanding: `$\<nl>x` is `$x`.
            Some('\\') if self.peek_at(2) == Some('\n') => {
                return self.code("a line continuation inside a `$` expansion")
            }
            Some(c) if is_name_start(c) => {
                self.pos += 1;
                let start = self.pos;
                while self.peek().is_some_and(is_name_char) {
                    self.pos += 1;
                }
                // `$ab\<nl>cd` is `$abcd` in bash.
                if self.peek() == Some('\\') && self.peek_at(1) == Some('\n') {
                    return self.code("a line continuation inside a `$` expansion");
                }
                self.s[start..self.pos].iter().collect()
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                return self.code(format!("the special parameter `${c}`"))
            }
            Some('\'') | Some('"') if !quoted => {
                return self.code("`$'...'` or `$\"...\"` quoting")
            }
            _ => {
                lit.push('$');
                self.pos += 1;
                return Ok(());
            }
        };
        if !lit.is_empty() {
            w.segs.push(Seg::Lit(std::mem::take(lit)));
        }
        w.segs.push(Seg::Var {
            name,
            quoted,
            pos: at,
        });
        Ok(())
    }

    /// Element 0 of a variable in scope, or why it cannot be looked up.
    fn lookup(&self, name: &str, pos: usize) -> Result<String, Fail> {
        if let Some(arr) = self.vars.get(name) {
            return Ok(arr.get(&0).cloned().unwrap_or_default());
        }
        match self.known.get(name) {
            Some(v) => Ok(v.clone()),
            None => Err(Fail::Code(pos, format!("the unknown variable ${name}"))),
        }
    }

    /// Expand a word to its value(s): one for scalars, zero or one for array
    /// elements (an unquoted empty expansion disappears).
    fn expand(&self, w: &Word, ctx: Ctx) -> Result<Option<String>, Fail> {
        let mut out = String::new();
        for seg in &w.segs {
            match seg {
                Seg::Lit(s) => out.push_str(s),
                Seg::Var { name, quoted, pos } => {
                    let v = self.lookup(name, *pos)?;
                    if !quoted && ctx != Ctx::Scalar && v.chars().any(|c| " \t\n*?[".contains(c)) {
                        return Err(Fail::Code(
                            *pos,
                            format!("an unquoted ${name} that bash would split or glob"),
                        ));
                    }
                    out.push_str(&v);
                }
            }
        }
        if ctx == Ctx::Element && out.is_empty() && !w.quoted {
            let only_vars = w
                .segs
                .iter()
                .all(|s| matches!(s, Seg::Var { quoted: false, .. }));
            if only_vars {
                return Ok(None);
            }
        }
        Ok(Some(out))
    }

    /// Perform a statement's assignments left to right (each sees the ones
    /// before it), or none of them when an expansion is not claimable.
    fn apply(&mut self, assigns: Vec<Assign>) -> Result<(), Fail> {
        // `export` is a command: bash expands all its arguments before it
        // assigns any (`export A=1 B=$A` gives B the old A).
        if assigns.iter().any(|a| {
            matches!(
                a,
                Assign::Scalar {
                    ctx: Ctx::Export,
                    ..
                }
            )
        }) {
            let mut values = Vec::with_capacity(assigns.len());
            for a in &assigns {
                if let Assign::Scalar {
                    name,
                    index,
                    word,
                    ctx,
                } = a
                {
                    values.push((name, *index, self.expand(word, *ctx)?.unwrap_or_default()));
                }
            }
            for (name, index, v) in values {
                self.seed(name);
                self.vars.entry(name.clone()).or_default().insert(index, v);
            }
            return Ok(());
        }
        if assigns.len() == 1 {
            return assigns.into_iter().try_for_each(|a| self.apply_one(a));
        }
        let saved = self.vars.clone();
        for a in assigns {
            let r = self.apply_one(a);
            if r.is_err() {
                self.vars = saved;
                return r;
            }
        }
        Ok(())
    }

    fn apply_one(&mut self, a: Assign) -> Result<(), Fail> {
        match a {
            Assign::Scalar {
                name,
                index,
                word,
                ctx,
            } => {
                let v = self.expand(&word, ctx)?.unwrap_or_default();
                self.seed(&name);
                self.vars.entry(name).or_default().insert(index, v);
            }
            Assign::Array { name, words } => {
                let mut arr = BTreeMap::new();
                for w in &words {
                    if let Some(v) = self.expand(w, Ctx::Element)? {
                        arr.insert(arr.len(), v);
                    }
                }
                self.vars.insert(name, arr);
            }
        }
        Ok(())
    }

    /// Before the first element write to a known variable, start from its
    /// known value (bash would keep element 0 when element N is set).
    fn seed(&mut self, name: &str) {
        if self.vars.contains_key(name) {
            return;
        }
        let mut arr = BTreeMap::new();
        if let Some(v) = self.known.get(name) {
            arr.insert(0, v.clone());
        }
        self.vars.insert(name.to_string(), arr);
    }

    /// Lenient mode: skip one whole statement (a simple command, a pipeline
    /// list, a compound command or function definition) without effect.
    fn skip_statement(&mut self) -> Result<(), Fail> {
        let mut st = Skipping {
            cmd_pos: true,
            ..Skipping::default()
        };
        let mut word_start = true;
        while let Some(c) = self.peek() {
            let at_word_start = word_start;
            word_start = false;
            match c {
                '\n' => {
                    self.pos += 1;
                    for (delim, strip_tabs) in std::mem::take(&mut st.heredocs) {
                        self.skip_heredoc(&delim, strip_tabs);
                    }
                    if !st.open() {
                        return Ok(());
                    }
                    st.cmd_pos = true;
                    word_start = true;
                }
                ' ' | '\t' => {
                    self.pos += 1;
                    word_start = true;
                }
                '\\' => {
                    self.pos += 2;
                    st.cmd_pos = false;
                }
                '#' if at_word_start => self.skip_comment(),
                '\'' | '"' | '`' | '$' => {
                    self.skip_quoted_or_expansion(c)?;
                    st.cmd_pos = false;
                }
                ';' | '&' => {
                    if self.skip_separator(c) && !st.open() {
                        return Ok(());
                    }
                    st.cmd_pos = true;
                    word_start = true;
                }
                '|' => {
                    self.pos += 1;
                    st.cmd_pos = true;
                    word_start = true;
                }
                '(' => {
                    self.pos += 1;
                    st.parens += 1;
                    st.cmd_pos = true;
                    word_start = true;
                }
                ')' => {
                    self.pos += 1;
                    st.parens = (st.parens - 1).max(0);
                    st.cmd_pos = true;
                    word_start = true;
                }
                '<' => {
                    st.heredocs.extend(self.skip_input_redirection());
                    st.cmd_pos = false;
                    word_start = true;
                }
                '>' => {
                    self.pos += 1;
                    word_start = true;
                }
                _ => self.skip_plain_word(&mut st),
            }
        }
        Ok(())
    }

    /// Skipping a statement: a quoted string, a command substitution or a
    /// parameter expansion (at `c`), whole.
    fn skip_quoted_or_expansion(&mut self, c: char) -> Result<(), Fail> {
        match c {
            '\'' => self.skip_single(),
            '"' => self.skip_double(),
            '`' => self.skip_backtick(),
            _ => match self.peek_at(1) {
                Some('(') => {
                    self.pos += 2;
                    self.skip_parens()
                }
                Some('{') => {
                    self.pos += 2;
                    self.skip_braces()
                }
                _ => {
                    self.pos += 1;
                    Ok(())
                }
            },
        }
    }

    /// Skipping a statement: the separator `;`, `;;`, `&` or `&&` (at
    /// `c`). True when it ends a command list (all but `&&`).
    fn skip_separator(&mut self, c: char) -> bool {
        self.pos += 1;
        let doubled = self.peek() == Some(c);
        if doubled {
            self.pos += 1;
        }
        c == ';' || !doubled
    }

    /// Skipping a statement: `<`, or `<<`/`<<-` and the delimiter of its
    /// here-document (whose body starts at the next newline), returned
    /// with whether tabs are stripped from it.
    fn skip_input_redirection(&mut self) -> Option<(String, bool)> {
        if self.peek_at(1) == Some('<') && self.peek_at(2) != Some('<') {
            self.pos += 2;
            let strip_tabs = self.peek() == Some('-');
            if strip_tabs {
                self.pos += 1;
            }
            self.skip_blanks();
            Some((self.heredoc_delim(), strip_tabs))
        } else {
            self.pos += 1;
            None
        }
    }

    /// Skipping a statement: an unquoted word, and what it opens or closes
    /// when it is a keyword in command position.
    fn skip_plain_word(&mut self, st: &mut Skipping) {
        let start = self.pos;
        while let Some(ch) = self.peek() {
            if is_blank(ch) || ch == '\n' || is_operator(ch) || "'\"`$\\".contains(ch) {
                break;
            }
            self.pos += 1;
        }
        let whole = matches!(
            self.peek(),
            None | Some(' ')
                | Some('\t')
                | Some('\n')
                | Some(';')
                | Some('&')
                | Some('|')
                | Some(')')
                | Some('<')
                | Some('>')
        );
        let word: String = self.s[start..self.pos].iter().collect();
        if st.after_function {
            st.after_function = false;
            st.cmd_pos = true;
        } else if st.cmd_pos && whole {
            st.command_word(&word);
        } else {
            st.cmd_pos = false;
        }
    }

    /// Run a nested skipper, refusing absurd nesting instead of overflowing
    /// the stack.
    fn nested(&mut self, f: fn(&mut Self) -> Result<(), Fail>) -> Result<(), Fail> {
        if self.nesting >= MAX_NESTING {
            return Err(Fail::Broken(
                self.pos,
                "quotes and substitutions nested too deeply".into(),
            ));
        }
        self.nesting += 1;
        let r = f(self);
        self.nesting -= 1;
        r
    }

    fn skip_single(&mut self) -> Result<(), Fail> {
        let open = self.pos;
        self.pos += 1;
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '\'' {
                return Ok(());
            }
        }
        Err(Fail::Broken(open, "unterminated single quote".into()))
    }

    fn skip_double(&mut self) -> Result<(), Fail> {
        self.nested(Self::skip_double_inner)
    }

    fn skip_double_inner(&mut self) -> Result<(), Fail> {
        let open = self.pos;
        self.pos += 1;
        while let Some(c) = self.peek() {
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(());
                }
                '\\' => self.pos += 2,
                '`' => self.skip_backtick()?,
                '$' if self.peek_at(1) == Some('(') => {
                    self.pos += 2;
                    self.skip_parens()?;
                }
                '$' if self.peek_at(1) == Some('{') => {
                    self.pos += 2;
                    self.skip_braces()?;
                }
                _ => self.pos += 1,
            }
        }
        Err(Fail::Broken(open, "unterminated double quote".into()))
    }

    fn skip_backtick(&mut self) -> Result<(), Fail> {
        let open = self.pos;
        self.pos += 1;
        while let Some(c) = self.peek() {
            match c {
                '`' => {
                    self.pos += 1;
                    return Ok(());
                }
                '\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
        Err(Fail::Broken(open, "unterminated backtick".into()))
    }

    /// Skip to the `)` matching an already consumed `(`.
    fn skip_parens(&mut self) -> Result<(), Fail> {
        self.nested(|r| r.skip_to_close('(', ')', "unterminated `$(`"))
    }

    /// Skip to the `}` matching an already consumed `${` (a `$(` inside is
    /// skipped whole).
    fn skip_braces(&mut self) -> Result<(), Fail> {
        self.nested(|r| r.skip_to_close('{', '}', "unterminated `${`"))
    }

    /// Skip to the `close` that matches an already consumed `open`, over
    /// quotes, escapes, backticks and (inside braces) `$(...)`.
    fn skip_to_close(&mut self, open_ch: char, close: char, what: &str) -> Result<(), Fail> {
        let open = self.pos;
        let mut depth = 1;
        while let Some(c) = self.peek() {
            match c {
                c if c == open_ch => {
                    depth += 1;
                    self.pos += 1;
                }
                c if c == close => {
                    depth -= 1;
                    self.pos += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                '\\' => self.pos += 2,
                '\'' => self.skip_single()?,
                '"' => self.skip_double()?,
                '`' => self.skip_backtick()?,
                '$' if open_ch == '{' && self.peek_at(1) == Some('(') => {
                    self.pos += 2;
                    self.skip_parens()?;
                }
                _ => self.pos += 1,
            }
        }
        Err(Fail::Broken(open, what.into()))
    }

    /// Read a here-document delimiter word (quotes removed).
    fn heredoc_delim(&mut self) -> String {
        let mut d = String::new();
        while let Some(c) = self.peek() {
            if is_blank(c) || c == '\n' || is_operator(c) {
                break;
            }
            if c != '\'' && c != '"' && c != '\\' {
                d.push(c);
            }
            self.pos += 1;
        }
        d
    }

    /// Skip here-document body lines up to and including the delimiter line.
    fn skip_heredoc(&mut self, delim: &str, strip_tabs: bool) {
        while self.pos < self.s.len() {
            let start = self.pos;
            while self.peek().is_some_and(|c| c != '\n') {
                self.pos += 1;
            }
            let line: String = self.s[start..self.pos].iter().collect();
            if self.peek() == Some('\n') {
                self.pos += 1;
            }
            let line = if strip_tabs {
                line.trim_start_matches('\t')
            } else {
                &line
            };
            if line == delim {
                return;
            }
        }
    }
}
