//! Reading a template: text and `{{actions}}` into a tree of [`Node`]s.

use anyhow::{anyhow, bail, Result};

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    /// `{{pipeline}}`: its value is printed (unless it declares variables).
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
}

/// `$a, $b := cmd | cmd ...`
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub declare: Vec<String>,
    /// `=` instead of `:=`: assign to variables that exist.
    pub assign: bool,
    pub commands: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
pub enum Arg {
    /// `.A.B` (empty: `.`).
    Field(Vec<String>),
    /// `$x.A.B` (`$` alone is the root).
    Variable(String, Vec<String>),
    /// `(pipeline).A.B`
    Sub(Pipeline, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    /// A function's name.
    Function(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Field(Vec<String>),
    Variable(String, Vec<String>),
    Word(String),
    Str(String),
    Number(String),
    Pipe,
    Open,
    /// `)` and the fields after it: `(...).A.B`.
    Close(Vec<String>),
    Declare,
    Assign,
    Comma,
}

/// One piece of the source: text, or an action's inside.
enum Piece {
    Text(String),
    Action(String, usize),
}

/// Split `{{`...`}}` from text, applying the trim markers (`{{- ` and ` -}}` remove the
/// white space next to them) and dropping comments.
fn pieces(source: &str) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = source;
    let mut trim_next = false;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_before =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_before {
            text = text.trim_end();
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let inside_start = if trim_before { 1 } else { 0 };
        let after = &after[inside_start..];
        // A `}}` inside a string literal does not end the action.
        let end = find_close(after)
            .ok_or_else(|| anyhow!("template: unclosed action at character {}", offset + start))?;
        let mut inside = &after[..end];
        trim_next = false;
        if inside.ends_with(" -") || inside.ends_with("\t-") || inside.ends_with("\n-") {
            inside = &inside[..inside.len() - 1];
            trim_next = true;
        }
        let trimmed = inside.trim();
        if !(trimmed.starts_with("/*") && trimmed.ends_with("*/")) {
            pieces.push(Piece::Action(inside.to_string(), offset + start));
        }
        let consumed = start + 2 + inside_start + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_string()));
    }
    Ok(pieces)
}

fn find_close(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == b'\\' && q == b'"' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'`' || b == b'\'' => quote = Some(b),
            None if text[i..].starts_with("}}") => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

fn fields_after(chars: &[char], i: &mut usize) -> Vec<String> {
    let mut fields = Vec::new();
    while *i < chars.len() && chars[*i] == '.' {
        *i += 1;
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
            *i += 1;
        }
        if *i > start {
            fields.push(chars[start..*i].iter().collect());
        } else {
            break;
        }
    }
    fields
}

fn tokens(action: &str, at: usize) -> Result<Vec<Token>> {
    let chars: Vec<char> = action.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                out.push(Token::Pipe);
                i += 1
            }
            '(' => {
                out.push(Token::Open);
                i += 1
            }
            ')' => {
                i += 1;
                out.push(Token::Close(fields_after(&chars, &mut i)));
            }
            ',' => {
                out.push(Token::Comma);
                i += 1
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                out.push(Token::Declare);
                i += 2
            }
            '=' => {
                out.push(Token::Assign);
                i += 1
            }
            '.' if !chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                let fields = fields_after(&chars, &mut i);
                if fields.is_empty() {
                    i += 1;
                }
                out.push(Token::Field(fields));
            }
            '$' => {
                i += 1;
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                out.push(Token::Variable(name, fields_after(&chars, &mut i)));
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        bail!("template: unterminated string at character {at}")
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            text.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        c => text.push(c),
                    }
                }
                out.push(Token::Str(text));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| {
                        anyhow!("template: unterminated raw string at character {at}")
                    })?;
                out.push(Token::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            '\'' => {
                // A character constant is a number in Go.
                let c = *chars.get(i + 1).unwrap_or(&'\0');
                out.push(Token::Number((c as u32).to_string()));
                i += 3;
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Token::Number(chars[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => bail!("template: unexpected {other:?} in action at character {at}"),
        }
    }
    Ok(out)
}

/// Parse a pipeline from `tokens[*i..]`, up to the end or an unmatched `)`.
fn pipeline(tokens: &[Token], i: &mut usize, at: usize) -> Result<Pipeline> {
    let mut pipe = Pipeline::default();
    // Declarations: `$x :=`, `$i, $e :=`.
    let mut j = *i;
    let mut names = Vec::new();
    while let Some(Token::Variable(name, fields)) = tokens.get(j) {
        if !fields.is_empty() {
            break;
        }
        names.push(name.clone());
        j += 1;
        match tokens.get(j) {
            Some(Token::Comma) => j += 1,
            Some(Token::Declare) | Some(Token::Assign) => {
                pipe.assign = tokens[j] == Token::Assign;
                pipe.declare = names.clone();
                *i = j + 1;
                break;
            }
            _ => break,
        }
    }
    let mut command = Vec::new();
    while let Some(token) = tokens.get(*i) {
        *i += 1;
        let arg = match token {
            Token::Pipe => {
                if command.is_empty() {
                    bail!("template: missing command before | at character {at}");
                }
                pipe.commands.push(std::mem::take(&mut command));
                continue;
            }
            Token::Close(_) => {
                *i -= 1;
                break;
            }
            Token::Open => {
                let inner = pipeline(tokens, i, at)?;
                let Some(Token::Close(fields)) = tokens.get(*i) else {
                    bail!("template: unclosed ( at character {at}");
                };
                *i += 1;
                Arg::Sub(inner, fields.clone())
            }
            Token::Field(f) => Arg::Field(f.clone()),
            Token::Variable(n, f) => Arg::Variable(n.clone(), f.clone()),
            Token::Str(s) => Arg::Str(s.clone()),
            Token::Number(n) => {
                number(n).ok_or_else(|| anyhow!("template: bad number {n:?} at character {at}"))?
            }
            Token::Word(w) => match w.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ => Arg::Function(w.clone()),
            },
            other => bail!("template: unexpected {other:?} at character {at}"),
        };
        command.push(arg);
    }
    if command.is_empty() {
        bail!("template: missing value for command at character {at}");
    }
    pipe.commands.push(command);
    Ok(pipe)
}

fn number(text: &str) -> Option<Arg> {
    let digits = text.trim_start_matches('+');
    if let Some(hex) = digits.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(Arg::Int);
    }
    if let Ok(n) = digits.parse::<i64>() {
        return Some(Arg::Int(n));
    }
    digits.parse::<f64>().ok().map(Arg::Float)
}

/// What ends a list of nodes.
enum Closer {
    Eof,
    End,
    Else(Option<Pipeline>, String),
}

pub fn parse(source: &str) -> Result<Vec<Node>> {
    let pieces = pieces(source)?;
    let mut at = 0;
    let (nodes, end) = list(&pieces, &mut at)?;
    match end {
        Closer::Eof => Ok(nodes),
        Closer::End => bail!("template: unexpected {{{{end}}}}"),
        Closer::Else(..) => bail!("template: unexpected {{{{else}}}}"),
    }
}

fn list(pieces: &[Piece], index: &mut usize) -> Result<(Vec<Node>, Closer)> {
    let mut nodes = Vec::new();
    while let Some(piece) = pieces.get(*index) {
        *index += 1;
        let (action, at) = match piece {
            Piece::Text(t) => {
                nodes.push(Node::Text(t.clone()));
                continue;
            }
            Piece::Action(a, at) => (a, *at),
        };
        let tokens = tokens(action, at)?;
        let keyword = match tokens.first() {
            Some(Token::Word(w)) => w.as_str(),
            None => bail!("template: missing value for command at character {at}"),
            _ => "",
        };
        let mut i = 1;
        match keyword {
            "end" => return Ok((nodes, Closer::End)),
            "else" => {
                // `else if ...` / `else with ...`: a chained block.
                let chained = match tokens.get(1) {
                    Some(Token::Word(w)) if w == "if" || w == "with" => {
                        i = 2;
                        Some((pipeline(&tokens, &mut i, at)?, w.clone()))
                    }
                    _ => None,
                };
                return Ok(match chained {
                    Some((p, kind)) => (nodes, Closer::Else(Some(p), kind)),
                    None => (nodes, Closer::Else(None, String::new())),
                });
            }
            "if" | "range" | "with" => {
                let pipe = pipeline(&tokens, &mut i, at)?;
                nodes.push(block(keyword, pipe, pieces, index, at)?);
            }
            "define" | "template" | "block" | "break" | "continue" => {
                bail!("template: {{{{{keyword}}}}} is not supported by baleia's templates")
            }
            _ => {
                let mut i = 0;
                let pipe = pipeline(&tokens, &mut i, at)?;
                if i < tokens.len() {
                    bail!("template: unexpected {:?} at character {at}", tokens[i]);
                }
                nodes.push(Node::Action(pipe));
            }
        }
    }
    Ok((nodes, Closer::Eof))
}

fn block(
    kind: &str,
    pipe: Pipeline,
    pieces: &[Piece],
    index: &mut usize,
    at: usize,
) -> Result<Node> {
    let (body, end) = list(pieces, index)?;
    let otherwise = match end {
        Closer::Eof => {
            bail!("template: unexpected EOF: {{{{{kind}}}}} at character {at} has no {{{{end}}}}")
        }
        Closer::End => Vec::new(),
        Closer::Else(None, _) => {
            let (otherwise, end) = list(pieces, index)?;
            if !matches!(end, Closer::End) {
                bail!(
                    "template: {{{{else}}}} of {{{{{kind}}}}} at character {at} has no {{{{end}}}}"
                );
            }
            otherwise
        }
        // `{{else if x}}...{{end}}`: one {{end}} closes the chain.
        Closer::Else(Some(pipe), chained) => vec![block(&chained, pipe, pieces, index, at)?],
    };
    Ok(match kind {
        "if" => Node::If(pipe, body, otherwise),
        "range" => Node::Range(pipe, body, otherwise),
        _ => Node::With(pipe, body, otherwise),
    })
}
