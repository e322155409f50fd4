//! Columns as docker's `table` formats align them: Go's text/tabwriter with docker's settings
//! (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`: columns at least 10 wide, 3 spaces of
//! padding). Read <https://pkg.go.dev/text/tabwriter>.
//!
//! A cell is text ended by a tab; a line's last text (with no tab after it) is not part of any
//! column. A column is aligned over a block of consecutive lines that all have a cell in it,
//! so a line with fewer cells ends the blocks of the columns it lacks.

const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

/// Align `text` (lines ended by `\n`, cells by `\t`).
pub fn align(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text
        .split_inclusive('\n')
        .map(|line| line.trim_end_matches('\n').split('\t').collect())
        .collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format(&lines, 0, lines.len(), &mut widths, &mut out);
    // Every line but a last one without a newline ended with one.
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

fn width(cell: &str) -> usize {
    cell.chars().count()
}

/// Go's `Writer.format`: find the blocks of the next column among lines `from..to`.
fn format(
    lines: &[Vec<&str>],
    mut from: usize,
    to: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = from;
    while this < to {
        // Cells ended by a tab: all but the last.
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, from, this, widths, out);
        from = this;
        let mut size = MIN_WIDTH;
        while this < to && column + 1 < lines[this].len() {
            size = size.max(width(lines[this][column]) + PADDING);
            this += 1;
        }
        widths.push(size);
        format(lines, from, this, widths, out);
        widths.pop();
        from = this;
    }
    write_lines(lines, from, to, widths, out);
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() && j + 1 < line.len() {
                out.push_str(&" ".repeat(widths[j].saturating_sub(width(cell))));
            }
        }
        out.push('\n');
    }
}
