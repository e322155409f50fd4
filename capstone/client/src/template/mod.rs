//! `--format` and `inspect -f`: the part of Go's text/template (read
//! <https://pkg.go.dev/text/template>) that docker users write, over JSON values.
//!
//! ```text
//! {{.State.Status}}  {{json .Config}}  {{index .Config.Labels "k"}}  {{join .Args ","}}
//! {{range .Mounts}}{{.Source}} {{end}}  {{if .State.Running}}up{{else}}down{{end}}
//! {{printf "%-10s" .Name | upper}}  {{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}
//! table {{.ID}}\t{{.Names}}           (ps, images, ...: a header line, aligned columns)
//! ```
//!
//! Supported: text and actions (with `{{-`/`-}}` trimming and `{{/* comments */}}`), fields
//! and chains of them, variables (`$`, `$x := …`, `$i, $e := range`), pipelines with `|`,
//! parenthesised pipelines, `if`/`else if`/`else`, `range` (with `else`), `with`, and the
//! functions docker adds (`json`, `join`, `split`, `lower`, `upper`, `title`, `pad`,
//! `truncate`) and Go's own `index`, `len`, `printf`, `print`, `println`, `eq`, `ne`, `lt`,
//! `le`, `gt`, `ge`, `and`, `or`, `not`, `slice`. Anything else is an error naming it.
//!
//! The values are the API's JSON, not docker's Go structs, so a few things print differently
//! from docker: a whole object prints as a Go map (`map[k:v ...]`, keys sorted) where docker
//! prints a struct's values in field order (`{v1 v2}`), and `json` of an object sorts its keys.
//! Fields, strings, numbers, lists, maps, `json` of lists and strings match docker's output
//! (the differential test checks them against the real docker CLI).

mod eval;
mod parse;
mod tabwriter;

pub use tabwriter::align;

use anyhow::Result;
use serde_json::Value;

/// A parsed template.
pub struct Template {
    nodes: Vec<parse::Node>,
    strict: bool,
}

impl Template {
    /// Parse `text`; errors name the position and what was not understood.
    pub fn parse(text: &str) -> Result<Template> {
        Ok(Template {
            nodes: parse::parse(text)?,
            strict: false,
        })
    }

    /// A key the data lacks is an error rather than `<no value>` (Go's `missingkey=error`,
    /// which docker's `inspect -f` uses).
    pub fn strict(mut self) -> Template {
        self.strict = true;
        self
    }

    /// Run the template with `data` as `.` (and `$`).
    pub fn render(&self, data: &Value) -> Result<String> {
        eval::render(&self.nodes, data, eval::Functions::Values, self.strict)
    }

    /// Run the template for a table's header: `data` maps each field to its column's title,
    /// and the functions hand their first argument back unchanged (docker's header functions).
    pub fn render_header(&self, data: &Value) -> Result<String> {
        eval::render(&self.nodes, data, eval::Functions::Header, self.strict)
    }
}

/// A `--format` for a list (`ps`, `images`, `volume ls`, ...), read as docker reads one: an
/// optional `table` prefix (a header line and columns aligned like docker's tabwriter), and
/// `\t`, `\n` written as two characters standing for a tab and a newline.
pub struct ListFormat {
    template: Template,
    table: bool,
}

impl ListFormat {
    pub fn parse(format: &str) -> Result<ListFormat> {
        let (table, rest) = match format.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, format),
        };
        let text = rest
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        Ok(ListFormat {
            template: Template::parse(&text)?,
            table,
        })
    }

    /// The whole output: one line per row (after a header for `table`). `headers` maps field
    /// names to column titles.
    pub fn render(&self, rows: &[Value], headers: &Value) -> Result<String> {
        let mut out = String::new();
        if self.table {
            out.push_str(&self.template.render_header(headers)?);
            out.push('\n');
        }
        for row in rows {
            out.push_str(&self.template.render(row)?);
            out.push('\n');
        }
        Ok(if self.table { align(&out) } else { out })
    }
}

/// Whether a `--format` value is one of docker's named formats rather than a template.
pub fn is_template(format: &str) -> bool {
    !matches!(format, "" | "table")
}

#[cfg(test)]
mod tests;
