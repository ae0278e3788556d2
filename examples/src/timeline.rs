//! The tour's per-call timeline: one row per call, one mark per attempt, retry,
//! timeout, rejection and breaker refusal, placed by time on the x-axis.
//!
//! The tour opens a [`Row`] for each call it makes and runs the call through
//! [`Row::record`], which makes the row the current one for that task (a tokio task
//! local). The marks come from where things happen: the client's `Api::get` marks an
//! attempt, the tour's tracing layer turns steadfast's events into retries, timeouts,
//! rejections and refusals ([`mark_event`]), and `record` marks how the call ended.
//! [`Timeline::render`] draws the picture.
//!
//! ```text
//! stock  2   │●─────◷↻·····●──✓                │
//! priority 3 │⊘✗                               │
//!            └─────────────────────────────────┘
//!             0s                          2.26s
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// One mark on a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    /// An attempt started (a request left for the service).
    Attempt,
    /// `#[retry]` decided to retry (its backoff sleep follows).
    Retry,
    /// `#[timeout]` cancelled the attempt.
    Timeout,
    /// `#[limit(wait)]` shed the call.
    Rejected,
    /// An open circuit breaker refused the call.
    CircuitOpen,
    /// The call returned `Ok`.
    Ok,
    /// The call returned `Err`.
    Failed,
}

impl Mark {
    /// Every mark, in the legend's order.
    pub const ALL: [Mark; 7] = [
        Mark::Attempt,
        Mark::Retry,
        Mark::Timeout,
        Mark::Rejected,
        Mark::CircuitOpen,
        Mark::Ok,
        Mark::Failed,
    ];

    /// Its glyph (one column wide).
    pub fn glyph(self) -> char {
        match self {
            Mark::Attempt => '●',
            Mark::Retry => '↻',
            Mark::Timeout => '◷',
            Mark::Rejected => '⊘',
            Mark::CircuitOpen => '⊗',
            Mark::Ok => '✓',
            Mark::Failed => '✗',
        }
    }

    /// Its name in the legend.
    pub fn name(self) -> &'static str {
        match self {
            Mark::Attempt => "attempt",
            Mark::Retry => "retry",
            Mark::Timeout => "timeout",
            Mark::Rejected => "rejected",
            Mark::CircuitOpen => "circuit open",
            Mark::Ok => "ok",
            Mark::Failed => "failed",
        }
    }

    /// Its ANSI colour (SGR parameters).
    fn colour(self) -> &'static str {
        match self {
            Mark::Attempt => "36",     // cyan
            Mark::Retry => "33",       // yellow
            Mark::Timeout => "31",     // red
            Mark::Rejected => "35",    // magenta
            Mark::CircuitOpen => "34", // blue
            Mark::Ok => "32",          // green
            Mark::Failed => "1;31",    // bold red
        }
    }

    /// The mark the glyph stands for.
    pub fn of_glyph(glyph: char) -> Option<Mark> {
        Mark::ALL.into_iter().find(|m| m.glyph() == glyph)
    }
}

/// One call: its label and its marks in the order they happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// What the row is called (`stock 3`).
    pub label: String,
    /// When each mark happened.
    pub marks: Vec<(Instant, Mark)>,
}

impl Call {
    /// The marks without their times.
    pub fn kinds(&self) -> Vec<Mark> {
        self.marks.iter().map(|(_, m)| *m).collect()
    }
}

/// The calls of a tour, in the order their rows were opened. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Timeline(Arc<Mutex<Vec<Call>>>);

/// An open row: the call that [`Row::record`] runs marks it.
#[derive(Debug, Clone)]
pub struct Row {
    timeline: Timeline,
    index: usize,
}

tokio::task_local! {
    static CURRENT: Row;
}

impl Timeline {
    /// Opens a row labelled `label` (now: rows keep the order they were opened in).
    pub fn row(&self, label: impl Into<String>) -> Row {
        let mut calls = self.0.lock().unwrap();
        calls.push(Call { label: label.into(), marks: Vec::new() });
        Row { timeline: self.clone(), index: calls.len() - 1 }
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }

    /// The picture: a row per call, `width` columns of time from the first mark to the
    /// last, a time axis and a legend; ANSI colours if `colour`.
    pub fn render(&self, width: usize, colour: bool) -> String {
        let calls = self.calls();
        let times = calls.iter().flat_map(|c| c.marks.iter().map(|(at, _)| *at));
        let (Some(start), Some(end)) = (times.clone().min(), times.max()) else {
            return String::from("(no calls)");
        };
        let span = (end - start).max(Duration::from_millis(1));
        let width = width.max(2);
        let column = |at: Instant| {
            let share = (at - start).as_secs_f64() / span.as_secs_f64();
            (share * (width - 1) as f64).round() as usize
        };
        let lines: Vec<Vec<Cell>> = calls.iter().map(|c| cells(c, width, column)).collect();
        let inner = lines.iter().map(Vec::len).max().unwrap_or(width).max(width);
        let label_width = calls.iter().map(|c| c.label.chars().count()).max().unwrap_or(0);

        let mut out = String::new();
        for (call, line) in calls.iter().zip(&lines) {
            let _ = write!(out, "{:<label_width$} │", call.label);
            for cell in line {
                cell.write(&mut out, colour);
            }
            let _ = writeln!(out, "{}│", " ".repeat(inner - line.len()));
        }
        let _ = writeln!(out, "{:label_width$} └{}┘", "", "─".repeat(inner));
        let total = format!("{:.2}s", span.as_secs_f64());
        let gap = inner.saturating_sub(2 + total.len());
        let _ = writeln!(out, "{:label_width$}  0s{}{total}", "", " ".repeat(gap));
        let legend: Vec<String> = Mark::ALL
            .iter()
            .map(|m| format!("{} {}", Cell::Glyph(*m).paint(colour), m.name()))
            .collect();
        let _ = write!(out, "{:label_width$}  {}", "", legend.join("   "));
        out
    }
}

impl Row {
    /// Runs `call` with this row as its task's current one, and marks how it ended.
    pub async fn record<T, E>(self, call: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        CURRENT
            .scope(self.clone(), async move {
                let out = call.await;
                self.push(if out.is_ok() { Mark::Ok } else { Mark::Failed });
                out
            })
            .await
    }

    fn push(&self, mark: Mark) {
        self.timeline.0.lock().unwrap()[self.index].marks.push((Instant::now(), mark));
    }
}

/// Marks the current task's row, if it has one (a call the tour records).
pub fn mark(mark: Mark) {
    let _ = CURRENT.try_with(|row| row.push(mark));
}

/// Marks the current row for one of steadfast's events, known by its fields: a retry
/// (`delay_ms`), a timeout (`timeout_ms`), a rejection (WARN with `waited_ms`), a
/// refusal by an open breaker (`retry_after_ms`).
pub fn mark_event(fields: &[&str], level: tracing::Level) {
    let kind = if fields.contains(&"delay_ms") {
        Mark::Retry
    } else if fields.contains(&"timeout_ms") {
        Mark::Timeout
    } else if fields.contains(&"waited_ms") && level == tracing::Level::WARN {
        Mark::Rejected
    } else if fields.contains(&"retry_after_ms") {
        Mark::CircuitOpen
    } else {
        return;
    };
    mark(kind);
}

/// Whether to colour: stdout is a terminal and `NO_COLOR` is unset (or empty).
pub fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One column of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Empty,
    /// Between an attempt and what followed it (`─`), or a retry's backoff (`·`).
    Fill(char),
    Glyph(Mark),
}

impl Cell {
    fn paint(self, colour: bool) -> String {
        match (self, colour) {
            (Cell::Empty, _) => " ".into(),
            (Cell::Fill(c), false) => c.into(),
            (Cell::Fill(c), true) => format!("\x1b[2m{c}\x1b[0m"),
            (Cell::Glyph(m), false) => m.glyph().into(),
            (Cell::Glyph(m), true) => format!("\x1b[{}m{}\x1b[0m", m.colour(), m.glyph()),
        }
    }

    fn write(self, out: &mut String, colour: bool) {
        out.push_str(&self.paint(colour));
    }
}

/// A call's columns: every mark at its time's column, or just right of the mark
/// before it when they share one (no mark is hidden); the spans between filled.
fn cells(call: &Call, width: usize, column: impl Fn(Instant) -> usize) -> Vec<Cell> {
    let mut line = vec![Cell::Empty; width];
    let mut placed: Vec<(usize, Mark)> = Vec::new();
    for &(at, mark) in &call.marks {
        let col = match placed.last() {
            Some(&(prev, _)) => column(at).max(prev + 1),
            None => column(at),
        };
        placed.push((col, mark));
    }
    if let Some(&(last, _)) = placed.last() {
        line.resize(line.len().max(last + 1), Cell::Empty);
    }
    for pair in placed.windows(2) {
        let ((from, mark), (to, _)) = (pair[0], pair[1]);
        let fill = match mark {
            Mark::Attempt => '─',
            Mark::Retry => '·',
            _ => continue,
        };
        for cell in &mut line[from + 1..to] {
            *cell = Cell::Fill(fill);
        }
    }
    for (col, mark) in placed {
        line[col] = Cell::Glyph(mark);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(label: &str, start: Instant, marks: &[(u64, Mark)]) -> Call {
        let marks = marks.iter().map(|&(ms, m)| (start + Duration::from_millis(ms), m)).collect();
        Call { label: label.into(), marks }
    }

    #[test]
    fn marks_sit_at_their_time_and_spans_are_filled() {
        let start = Instant::now();
        let timeline = Timeline::default();
        timeline.0.lock().unwrap().extend([
            call(
                "slow",
                start,
                &[
                    (0, Mark::Attempt),
                    (400, Mark::Timeout),
                    (400, Mark::Retry),
                    (600, Mark::Attempt),
                    (1000, Mark::Ok),
                ],
            ),
            call("shed", start, &[(0, Mark::Rejected), (0, Mark::Failed)]),
        ]);
        let text = timeline.render(11, false);
        let lines: Vec<&str> = text.lines().collect();
        // 11 columns for 1 s: a column per 100 ms; the retry shares the timeout's
        // column and moves one right.
        assert_eq!(lines[0], "slow │●───◷↻●───✓│");
        assert_eq!(lines[1], "shed │⊘✗         │");
        assert_eq!(lines[2], "     └───────────┘");
        assert_eq!(lines[3], "      0s    1.00s");
        assert!(lines[4].contains("● attempt") && lines[4].contains("⊗ circuit open"));
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn colours_only_when_asked() {
        let start = Instant::now();
        let timeline = Timeline::default();
        timeline.0.lock().unwrap().push(call("c", start, &[(0, Mark::Attempt), (10, Mark::Ok)]));
        let text = timeline.render(4, true);
        assert!(text.contains("\x1b[36m●\x1b[0m") && text.contains("\x1b[32m✓\x1b[0m"), "{text}");
    }

    #[tokio::test]
    async fn a_recorded_call_collects_its_marks_and_others_none() {
        let timeline = Timeline::default();
        let row = timeline.row("one");
        let out = row
            .record(async {
                mark(Mark::Attempt);
                mark_event(&["delay_ms"], tracing::Level::WARN);
                mark(Mark::Attempt);
                Err::<(), ()>(())
            })
            .await;
        assert_eq!(out, Err(()));
        mark(Mark::Attempt); // outside any row: nowhere
        let calls = timeline.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].kinds(), [Mark::Attempt, Mark::Retry, Mark::Attempt, Mark::Failed]);
    }
}
