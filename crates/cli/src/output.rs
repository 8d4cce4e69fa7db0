//! How results are printed: aligned columns with a header on a terminal, tab-separated rows
//! without one when piped (for `cut`, `awk`, `while read`), or JSON with `--json` (every field,
//! or the fields named). Nothing but results goes to standard output.

use std::io::Write;

use serde_json::Value;

use crate::error::CliError;

pub struct Output<'a> {
    pub out: &'a mut dyn Write,
    pub tty: bool,
    /// `--json`: `Some(empty)` for every field, `Some(fields)` for those.
    pub json: Option<Vec<String>>,
}

impl Output<'_> {
    /// A list: as JSON (an array), or as a table of `columns` (each a field of the items).
    pub fn list(&mut self, items: &[Value], columns: &[&str]) -> Result<(), CliError> {
        if self.json.is_some() {
            let items: Vec<Value> = items.iter().map(|item| self.pick(item)).collect();
            return self.write_json(&Value::Array(items));
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|item| columns.iter().map(|column| cell(item, column)).collect())
            .collect();
        self.table(columns, &rows)
    }

    /// One object: as JSON, or as `field  value` lines of `fields`.
    pub fn object(&mut self, item: &Value, fields: &[&str]) -> Result<(), CliError> {
        if self.json.is_some() {
            let picked = self.pick(item);
            return self.write_json(&picked);
        }
        let rows: Vec<Vec<String>> = fields
            .iter()
            .map(|field| vec![(*field).to_string(), cell(item, field)])
            .collect();
        if self.tty {
            let width = fields.iter().map(|f| f.len()).max().unwrap_or(0);
            for row in rows {
                writeln!(self.out, "{:<width$}  {}", row[0], row[1])?;
            }
        } else {
            for row in rows {
                writeln!(self.out, "{}\t{}", row[0], row[1])?;
            }
        }
        Ok(())
    }

    pub fn text(&mut self, text: &str) -> Result<(), CliError> {
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }

    fn write_json(&mut self, value: &Value) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        writeln!(self.out, "{text}")?;
        Ok(())
    }

    /// The item with only the fields `--json` named (all when it named none).
    fn pick(&self, item: &Value) -> Value {
        match (&self.json, item) {
            (Some(fields), Value::Object(object)) if !fields.is_empty() => Value::Object(
                fields
                    .iter()
                    .map(|field| {
                        (
                            field.clone(),
                            object.get(field).cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect(),
            ),
            _ => item.clone(),
        }
    }

    fn table(&mut self, columns: &[&str], rows: &[Vec<String>]) -> Result<(), CliError> {
        if !self.tty {
            for row in rows {
                writeln!(self.out, "{}", row.join("\t"))?;
            }
            return Ok(());
        }
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                rows.iter()
                    .map(|row| row[index].chars().count())
                    .chain([column.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .enumerate()
                .map(|(index, cell)| {
                    let pad = widths[index].saturating_sub(cell.chars().count());
                    format!("{cell}{}", " ".repeat(pad))
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let header = columns.iter().map(|c| c.to_uppercase()).collect();
        writeln!(self.out, "{}", line(header))?;
        for row in rows {
            writeln!(self.out, "{}", line(row.clone()))?;
        }
        Ok(())
    }
}

/// A field as a cell: strings as they are, lists joined with commas, nothing for null; a
/// dotted name reads inside an object (`run.status`). Tabs and newlines become spaces.
pub fn cell(item: &Value, field: &str) -> String {
    let value = field
        .split('.')
        .try_fold(item, |value, key| value.get(key))
        .unwrap_or(&Value::Null);
    let text = match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    text.replace(['\t', '\n', '\r'], " ")
}
