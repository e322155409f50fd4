//! Running a parsed template over a JSON value, printing values as Go's fmt prints them.

use super::parse::{Arg, Node, Pipeline};
use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};

/// Which functions a run uses: the real ones, or docker's header functions (each hands its
/// first argument back, so `{{json .Labels}}` in a table's header prints `LABELS`).
#[derive(Clone, Copy, PartialEq)]
pub enum Functions {
    Values,
    Header,
}

struct Run<'a> {
    out: String,
    /// A missing key is an error (Go's `missingkey=error`, as docker's `inspect -f` runs).
    strict: bool,
    /// Variables, innermost last; `$` is the first.
    variables: Vec<(String, Value)>,
    functions: Functions,
    _root: &'a Value,
}

pub fn render(nodes: &[Node], data: &Value, functions: Functions, strict: bool) -> Result<String> {
    let mut run = Run {
        out: String::new(),
        strict,
        variables: vec![(String::new(), data.clone())],
        functions,
        _root: data,
    };
    run.nodes(nodes, data)?;
    Ok(run.out)
}

/// Go's truth: false, 0, nil and empty strings, lists and maps are false.
pub fn truth(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A value as Go's `fmt.Print` writes it (`%v`).
pub fn print(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(print_inner).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}:{}", print_inner(v)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
    }
}

/// Inside a list or map, Go prints nil as `<nil>`.
fn print_inner(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        other => print(other),
    }
}

/// `%v` of a float64: the shortest representation, with an exponent below 1e-4 or from 1e21.
fn go_float(f: f64) -> String {
    if f != 0.0 && (f.abs() < 1e-4 || f.abs() >= 1e21) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        format!("{f}")
    }
}

fn field(value: &Value, name: &str) -> Value {
    match value {
        Value::Object(map) => map.get(name).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn fields(mut value: Value, names: &[String], strict: bool) -> Result<Value> {
    for name in names {
        match &value {
            Value::Object(map) if strict && !map.contains_key(name) => {
                bail!("template: map has no entry for key \"{name}\"")
            }
            Value::Object(_) | Value::Null => value = field(&value, name),
            _ => bail!("template: can't evaluate field {name} in {}", print(&value)),
        }
    }
    Ok(value)
}

impl Run<'_> {
    fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Result<()> {
        for node in nodes {
            self.node(node, dot)?;
        }
        Ok(())
    }

    fn scoped(&mut self, nodes: &[Node], dot: &Value) -> Result<()> {
        let depth = self.variables.len();
        let result = self.nodes(nodes, dot);
        self.variables.truncate(depth);
        result
    }

    fn node(&mut self, node: &Node, dot: &Value) -> Result<()> {
        match node {
            Node::Text(text) => self.out.push_str(text),
            Node::Action(pipe) => {
                let value = self.pipeline(pipe, dot)?;
                if pipe.declare.is_empty() {
                    self.out.push_str(&print(&value));
                }
            }
            Node::If(pipe, then, otherwise) => {
                let depth = self.variables.len();
                let value = self.pipeline(pipe, dot)?;
                let branch = if truth(&value) { then } else { otherwise };
                let result = self.scoped(branch, dot);
                self.variables.truncate(depth);
                result?;
            }
            Node::With(pipe, then, otherwise) => {
                let depth = self.variables.len();
                let value = self.pipeline(pipe, dot)?;
                let result = if truth(&value) {
                    self.scoped(then, &value)
                } else {
                    self.scoped(otherwise, dot)
                };
                self.variables.truncate(depth);
                result?;
            }
            Node::Range(pipe, body, otherwise) => {
                let depth = self.variables.len();
                // The declared variables get key and element, not the whole value.
                let plain = Pipeline {
                    declare: Vec::new(),
                    ..pipe.clone()
                };
                let value = self.pipeline(&plain, dot)?;
                let items: Vec<(Value, Value)> = match value {
                    Value::Array(items) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (json!(i), v))
                        .collect(),
                    Value::Object(map) => map.into_iter().map(|(k, v)| (json!(k), v)).collect(),
                    Value::Null => Vec::new(),
                    Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0))
                        .map(|i| (json!(i), json!(i)))
                        .collect(),
                    other => bail!("template: range can't iterate over {}", print(&other)),
                };
                if items.is_empty() {
                    self.scoped(otherwise, dot)?;
                }
                for (key, item) in items {
                    match pipe.declare.as_slice() {
                        [] => {}
                        [element] => self.variables.push((element.clone(), item.clone())),
                        [k, element, ..] => {
                            self.variables.push((k.clone(), key));
                            self.variables.push((element.clone(), item.clone()));
                        }
                    }
                    self.scoped(body, &item)?;
                    self.variables.truncate(depth);
                }
            }
        }
        Ok(())
    }

    fn variable(&self, name: &str) -> Result<Value> {
        self.variables
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| anyhow!("template: undefined variable \"${name}\""))
    }

    fn pipeline(&mut self, pipe: &Pipeline, dot: &Value) -> Result<Value> {
        let mut last: Option<Value> = None;
        for command in &pipe.commands {
            last = Some(self.command(command, dot, last)?);
        }
        let value = last.unwrap_or(Value::Null);
        if pipe.assign {
            for name in &pipe.declare {
                match self.variables.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => bail!("template: undefined variable \"${name}\""),
                }
            }
        } else {
            for name in &pipe.declare {
                self.variables.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn arg(&mut self, arg: &Arg, dot: &Value) -> Result<Value> {
        Ok(match arg {
            Arg::Field(names) => fields(dot.clone(), names, self.strict)?,
            Arg::Variable(name, names) => fields(self.variable(name)?, names, self.strict)?,
            Arg::Sub(pipe, names) => {
                let value = self.pipeline(pipe, dot)?;
                fields(value, names, self.strict)?
            }
            Arg::Str(s) => json!(s),
            Arg::Int(i) => json!(i),
            Arg::Float(f) => json!(f),
            Arg::Bool(b) => json!(b),
            Arg::Nil => Value::Null,
            Arg::Function(name) => self.call(name, Vec::new())?,
        })
    }

    /// One command of a pipeline; `piped` is the previous command's value, its last argument.
    fn command(&mut self, command: &[Arg], dot: &Value, piped: Option<Value>) -> Result<Value> {
        match &command[0] {
            Arg::Function(name) => {
                let mut args = Vec::new();
                for arg in &command[1..] {
                    args.push(self.arg(arg, dot)?);
                }
                args.extend(piped);
                self.call(name, args)
            }
            value if command.len() == 1 && piped.is_none() => self.arg(value, dot),
            _ => bail!("template: can't give arguments to a value that is not a function"),
        }
    }

    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value> {
        if self.functions == Functions::Header {
            if let Some(header) = header_function(name, &args) {
                return Ok(header);
            }
        }
        let want = |n: usize| -> Result<()> {
            if args.len() != n {
                bail!(
                    "template: wrong number of args for {name}: want {n} got {}",
                    args.len()
                );
            }
            Ok(())
        };
        let text = |i: usize| -> String { print(&args[i]) };
        Ok(match name {
            "json" => {
                want(1)?;
                json!(serde_json::to_string(&args[0])?)
            }
            "join" => {
                want(2)?;
                let items: Vec<String> = match &args[0] {
                    Value::Array(items) => items.iter().map(print).collect(),
                    other => bail!("template: join wants a list, got {}", print(other)),
                };
                json!(items.join(&text(1)))
            }
            "split" => {
                want(2)?;
                json!(text(0).split(&text(1)).collect::<Vec<_>>())
            }
            "lower" => {
                want(1)?;
                json!(text(0).to_lowercase())
            }
            "upper" => {
                want(1)?;
                json!(text(0).to_uppercase())
            }
            "title" => {
                want(1)?;
                json!(title(&text(0)))
            }
            "pad" => {
                want(3)?;
                let (left, right) = (int(&args[1])?, int(&args[2])?);
                json!(format!(
                    "{}{}{}",
                    " ".repeat(left.max(0) as usize),
                    text(0),
                    " ".repeat(right.max(0) as usize)
                ))
            }
            "truncate" => {
                want(2)?;
                let n = int(&args[1])?.max(0) as usize;
                json!(text(0).chars().take(n).collect::<String>())
            }
            "index" => {
                if args.is_empty() {
                    bail!("template: wrong number of args for index: want at least 1 got 0");
                }
                let mut value = args[0].clone();
                for key in &args[1..] {
                    value = match (&value, key) {
                        // A missing key gives the zero value of the map's elements, and
                        // docker's maps (labels, options) hold strings: "".
                        (Value::Object(map), Value::String(k)) => {
                            map.get(k).cloned().unwrap_or(json!(""))
                        }
                        (Value::Array(items), _) => {
                            let i = int(key)?;
                            items.get(i as usize).cloned().ok_or_else(|| {
                                anyhow!("template: error calling index: index out of range: {i}")
                            })?
                        }
                        (Value::Null, _) => json!(""),
                        (other, _) => bail!(
                            "template: error calling index: can't index item of type {}",
                            kind(other)
                        ),
                    };
                }
                value
            }
            "slice" => {
                if args.is_empty() {
                    bail!("template: wrong number of args for slice: want at least 1 got 0");
                }
                let from = args.get(1).map(int).transpose()?.unwrap_or(0).max(0) as usize;
                match &args[0] {
                    Value::String(s) => {
                        let to = args
                            .get(2)
                            .map(int)
                            .transpose()?
                            .map_or(s.len(), |t| t as usize);
                        json!(s
                            .get(from..to)
                            .ok_or_else(|| anyhow!("template: slice index out of range"))?)
                    }
                    Value::Array(items) => {
                        let to = args
                            .get(2)
                            .map(int)
                            .transpose()?
                            .map_or(items.len(), |t| t as usize);
                        json!(items
                            .get(from..to)
                            .ok_or_else(|| anyhow!("template: slice index out of range"))?)
                    }
                    other => bail!("template: can't slice item of type {}", kind(other)),
                }
            }
            "len" => {
                want(1)?;
                json!(match &args[0] {
                    Value::String(s) => s.len(),
                    Value::Array(a) => a.len(),
                    Value::Object(o) => o.len(),
                    other => bail!("template: error calling len: len of type {}", kind(other)),
                })
            }
            "print" => json!(go_print(&args)),
            "println" => {
                let items: Vec<String> = args.iter().map(print).collect();
                json!(items.join(" ") + "\n")
            }
            "printf" => {
                let Some(Value::String(format)) = args.first() else {
                    bail!("template: printf wants a format string first");
                };
                json!(super::eval::printf(format, &args[1..]))
            }
            "not" => {
                want(1)?;
                json!(!truth(&args[0]))
            }
            "and" => args
                .iter()
                .find(|v| !truth(v))
                .or(args.last())
                .cloned()
                .unwrap_or(Value::Null),
            "or" => args
                .iter()
                .find(|v| truth(v))
                .or(args.last())
                .cloned()
                .unwrap_or(Value::Null),
            "eq" => {
                if args.len() < 2 {
                    bail!("template: wrong number of args for eq: want at least 2");
                }
                json!(args[1..].iter().any(|v| equal(&args[0], v)))
            }
            "ne" => {
                want(2)?;
                json!(!equal(&args[0], &args[1]))
            }
            "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let order = compare(&args[0], &args[1])?;
                json!(match name {
                    "lt" => order.is_lt(),
                    "le" => order.is_le(),
                    "gt" => order.is_gt(),
                    _ => order.is_ge(),
                })
            }
            other => bail!("template: function \"{other}\" not defined"),
        })
    }
}

/// docker's header functions: the column title passes through them unchanged.
fn header_function(name: &str, args: &[Value]) -> Option<Value> {
    match name {
        "json" | "split" | "join" | "title" | "lower" | "upper" | "pad" | "truncate" => {
            args.first().cloned()
        }
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn int(value: &Value) -> Result<i64> {
    value
        .as_i64()
        .or_else(|| value.as_f64().map(|f| f as i64))
        .ok_or_else(|| anyhow!("template: expected an integer, got {}", print(value)))
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => Ok(a
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&b.as_f64().unwrap_or(0.0))),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => bail!("template: incompatible types for comparison"),
    }
}

/// strings.Title: the first letter of each word in upper case.
fn title(text: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for c in text.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

/// fmt.Sprint: spaces between operands when neither side is a string.
fn go_print(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !arg.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&print(arg));
    }
    out
}

/// fmt.Sprintf for the verbs templates use: `%s %v %d %q %f %x %X %t %%`, with flags `-`,
/// `0`, `+`, a width and a precision.
pub fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next = args.iter();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero, mut plus) = (false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let mut text = match verb {
            'v' | 's' => {
                let t = print(arg);
                match (verb, precision) {
                    ('s', Some(p)) => t.chars().take(p).collect(),
                    _ => t,
                }
            }
            'q' => serde_json::to_string(&print(arg)).unwrap_or_default(),
            'd' => match arg.as_i64() {
                Some(i) if plus && i >= 0 => format!("+{i}"),
                Some(i) => i.to_string(),
                None => format!("%!d({})", print(arg)),
            },
            'f' | 'F' => match arg.as_f64() {
                Some(f) => format!("{f:.*}", precision.unwrap_or(6)),
                None => format!("%!f({})", print(arg)),
            },
            'x' | 'X' => {
                let t = match arg {
                    Value::Number(_) => format!("{:x}", arg.as_i64().unwrap_or(0)),
                    other => print(other).bytes().map(|b| format!("{b:02x}")).collect(),
                };
                if verb == 'X' {
                    t.to_uppercase()
                } else {
                    t
                }
            }
            't' => match arg {
                Value::Bool(b) => b.to_string(),
                other => format!("%!t({})", print(other)),
            },
            other => format!("%!{other}({})", print(arg)),
        };
        let width: usize = width.parse().unwrap_or(0);
        let len = text.chars().count();
        if len < width {
            let fill = width - len;
            text = if left {
                text + &" ".repeat(fill)
            } else if zero && matches!(verb, 'd' | 'f' | 'x' | 'X') {
                "0".repeat(fill) + &text
            } else {
                " ".repeat(fill) + &text
            };
        }
        out.push_str(&text);
    }
    let extra: Vec<String> = next.map(print).collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}
