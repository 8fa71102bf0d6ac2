//! The inline SVG charts: horizontal (optionally stacked) bars with a label column, and small
//! latency histograms. Every size is computed here: the `width`, `height` and `viewBox` of each
//! chart, each bar's length from its value, and each label cut (with `…`) to the room its column
//! has, measured in monospace character widths, so nothing overflows. Every text is escaped.
//! No `xmlns` (the HTML parser puts inline `<svg>` in the SVG namespace itself), so the page holds
//! no URL at all.

use std::fmt::Write;

use super::fmt::{cut, escape_html as esc, shorten, width};

/// The font of every chart; its glyphs are about 0.6 em wide.
const FONT: &str = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";

/// Bar charts: total width, label column, note column, gap between columns.
pub(crate) const CHART_W: f64 = 1040.0;
const LABEL_W: f64 = 360.0;
const NOTE_W: f64 = 170.0;
const GAP: f64 = 8.0;
/// The room of the longest bar.
pub(crate) const BAR_AREA: f64 = CHART_W - LABEL_W - NOTE_W - 2.0 * GAP;
/// Where bars start.
pub(crate) const BAR_X: f64 = LABEL_W + GAP;
const ROW_H: f64 = 24.0;
const BAR_H: f64 = 16.0;
const LEGEND_H: f64 = 24.0;
/// Bar charts' font size and the width of one character at that size (a little over 0.6 em, so
/// a cut label always fits).
const FONT_PX: f64 = 12.0;
const CHAR_W: f64 = 7.4;

/// Histograms: total size, font, character width.
pub(crate) const HIST_W: f64 = 340.0;
const HIST_H: f64 = 150.0;
const HIST_FONT_PX: f64 = 10.0;
const HIST_CHAR_W: f64 = 6.2;
/// More buckets than this are not drawn (the caller says so).
pub(crate) const HIST_MAX_BUCKETS: usize = 120;

/// How many characters fit in `px`.
fn chars_in(px: f64, char_w: f64) -> usize {
    if px <= 0.0 {
        0
    } else {
        (px / char_w).floor() as usize
    }
}

/// A length in pixels as written in the SVG (one decimal).
fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// The length of a bar for `value` when the longest is `max` (0 for a non-positive value or
/// scale).
pub(crate) fn bar_len(value: f64, max: f64, area: f64) -> f64 {
    if max > 0.0 && value > 0.0 {
        (value / max * area).min(area)
    } else {
        0.0
    }
}

/// One row of a bar chart: its label (cut to the label column), its tooltip, its segments'
/// values (stacked left to right) and a note written after the bar (cut to what is left).
pub(crate) struct Row {
    pub label: String,
    pub title: String,
    pub values: Vec<f64>,
    pub note: String,
}

/// A horizontal bar chart, one row per `rows` entry, segment `i` drawn with the CSS class
/// `classes[i]` (the last class for any further segment). All bars share one scale: the
/// largest row total is `BAR_AREA` long. `legend` (class, text) draws a key above the bars.
pub(crate) fn hbars(
    label: &str,
    rows: &[Row],
    classes: &[&str],
    legend: &[(&str, &str)],
) -> String {
    let top = if legend.is_empty() { 4.0 } else { LEGEND_H };
    let height = top + ROW_H * rows.len() as f64 + 4.0;
    let total = |r: &Row| r.values.iter().map(|v| v.max(0.0)).sum::<f64>();
    let max = rows.iter().map(total).fold(0.0, f64::max);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}" font-size="{FONT_PX}" role="img" aria-label="{l}">"#,
        w = px(CHART_W),
        h = px(height),
        l = esc(label),
    );
    let mut x = BAR_X;
    for (class, text) in legend {
        let _ = write!(
            s,
            r#"<rect class="{class}" x="{}" y="5" width="12" height="12" rx="2"/><text x="{}" y="15">{}</text>"#,
            px(x),
            px(x + 16.0),
            esc(text),
        );
        x += 16.0 + width(text) as f64 * CHAR_W + 18.0;
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + ROW_H * i as f64;
        let bar_y = y + (ROW_H - BAR_H) / 2.0;
        let text_y = y + ROW_H / 2.0 + FONT_PX * 0.35;
        let label = shorten(&r.label, chars_in(LABEL_W - 4.0, CHAR_W));
        let _ = write!(
            s,
            r#"<g><title>{}</title><text x="{}" y="{}" text-anchor="end">{}</text>"#,
            esc(&shorten(&r.title, 600)),
            px(LABEL_W),
            px(text_y),
            esc(&label),
        );
        let mut bx = BAR_X;
        for (j, v) in r.values.iter().enumerate() {
            let len = bar_len(*v, max, BAR_AREA);
            let class = classes.get(j).or(classes.last()).copied().unwrap_or("bar");
            let _ = write!(
                s,
                r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}"/>"#,
                px(bx),
                px(bar_y),
                px(len),
                px(BAR_H),
            );
            bx += len;
        }
        let note_x = bx + 6.0;
        let note = cut(
            &shorten(&r.note, 200),
            chars_in(CHART_W - note_x - 2.0, CHAR_W),
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}">{}</text></g>"#,
            px(note_x),
            px(text_y),
            esc(&note)
        );
    }
    s.push_str("</svg>");
    s
}

/// One bucket of a histogram: the label of its lower edge, its tooltip and its count.
pub(crate) struct HistBar {
    pub lower: String,
    pub title: String,
    pub calls: f64,
}

/// A small vertical bar chart, one bar (`class="hbar"`) per bucket in order, equal widths (the
/// buckets are log-spaced, so the axis reads as a log scale), heights proportional to the count.
/// The axis labels the bucket edges: each bar's `lower` on its left edge, `end` on the right edge
/// of the last; every k-th edge only, k the smallest that keeps the labels from touching, each
/// cut to its room and kept inside the chart. At most `HIST_MAX_BUCKETS` bars.
pub(crate) fn histogram(label: &str, bars: &[HistBar], end: &str) -> String {
    let bars = &bars[..bars.len().min(HIST_MAX_BUCKETS)];
    let max = bars.iter().map(|b| b.calls).fold(0.0, f64::max);
    let max_text = super::fmt::count(max);
    let left = (width(&max_text) as f64 * HIST_CHAR_W + 8.0).max(24.0);
    let (top, bottom, right) = (10.0, 22.0, 8.0);
    let plot_w = HIST_W - left - right;
    let plot_h = HIST_H - top - bottom;
    let n = bars.len().max(1);
    let slot = plot_w / n as f64;
    let gap = (slot * 0.2).min(2.0);
    let edges: Vec<&str> = bars
        .iter()
        .map(|b| b.lower.as_str())
        .chain(std::iter::once(end))
        .collect();
    let longest = edges.iter().map(|e| width(e)).max().unwrap_or(0) as f64 * HIST_CHAR_W + 8.0;
    let stride = ((longest / slot).ceil() as usize).clamp(1, n);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="hist" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}" font-size="{HIST_FONT_PX}" role="img" aria-label="{l}">"#,
        w = px(HIST_W),
        h = px(HIST_H),
        l = esc(label),
    );
    let base = top + plot_h;
    let _ = write!(
        s,
        r#"<line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/><text x="{t}" y="{}" text-anchor="end">{}</text><text x="{t}" y="{b}" text-anchor="end">0</text>"#,
        px(top + HIST_FONT_PX * 0.7),
        esc(&max_text),
        l = px(left),
        r = px(left + plot_w),
        b = px(base),
        t = px(left - 4.0),
    );
    for (i, b) in bars.iter().enumerate() {
        let h = if max > 0.0 {
            b.calls.max(0.0) / max * plot_h
        } else {
            0.0
        };
        let x = left + slot * i as f64;
        let _ = write!(
            s,
            r#"<rect class="hbar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
            px(x + gap / 2.0),
            px(base - h),
            px((slot - gap).max(0.5)),
            px(h),
            esc(&b.title),
        );
    }
    if !bars.is_empty() {
        // Edge i is at left + slot * i; the last edge (n) is always labelled when it falls on
        // the stride, else the labels stop at the last multiple.
        let room = chars_in(slot * stride as f64 - 6.0, HIST_CHAR_W);
        for (i, e) in edges.iter().enumerate().step_by(stride) {
            let text = cut(e, room);
            let half = width(&text) as f64 * HIST_CHAR_W / 2.0;
            let x = (left + slot * i as f64).clamp(half + 1.0, HIST_W - half - 1.0);
            let _ = write!(
                s,
                r#"<line class="tick" x1="{t}" y1="{b}" x2="{t}" y2="{}"/><text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                px(base + 3.0),
                px(x),
                px(base + 14.0),
                esc(&text),
                t = px(left + slot * i as f64),
                b = px(base),
            );
        }
    }
    s.push_str("</svg>");
    s
}
