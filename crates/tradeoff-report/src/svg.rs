//! Charts as standalone SVG: axes (linear or log), lines, points with hover titles, shaded
//! bands and marked x positions. No dependencies and no scripts, so the same file works
//! inline in the HTML report and beside the Markdown one.
//!
//! ```
//! use tradeoff_report::svg::{Chart, Point, Series};
//! let mut c = Chart::new("latency", "batch size", "p50");
//! c.x_log = true;
//! c.series.push(Series::line("cpu", 0, vec![Point::new(1.0, 2.0), Point::new(64.0, 9.0)]));
//! let svg = c.render();
//! assert!(svg.starts_with("<svg") && svg.contains("class=\"series\""));
//! ```

use std::fmt::Write;

/// Okabe-Ito colours, distinguishable with the common colour-vision deficiencies.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
];

/// Colour of invalid points (unstable, preempted, parity failed): kept visible, greyed.
const GREY: &str = "#9a9a9a";

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// Shown on hover.
    pub title: String,
    /// Drawn grey and hollow: the measurement is not valid (the title says why).
    pub invalid: bool,
    /// Drawn larger with a ring (a Pareto point, the recommendation).
    pub highlight: bool,
    /// Written next to the point.
    pub label: Option<String>,
}

impl Point {
    pub fn new(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            title: String::new(),
            invalid: false,
            highlight: false,
            label: None,
        }
    }
    pub fn titled(mut self, title: impl Into<String>) -> Point {
        self.title = title.into();
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// Index into [`PALETTE`].
    pub colour: usize,
    pub dashed: bool,
    /// Join the points with a line (else points only).
    pub line: bool,
    pub markers: bool,
    pub points: Vec<Point>,
}

impl Series {
    pub fn line(label: impl Into<String>, colour: usize, points: Vec<Point>) -> Series {
        Series {
            label: label.into(),
            colour,
            dashed: false,
            line: true,
            markers: true,
            points,
        }
    }
    pub fn scatter(label: impl Into<String>, colour: usize, points: Vec<Point>) -> Series {
        Series {
            line: false,
            ..Series::line(label, colour, points)
        }
    }
}

/// A shaded band between `low` and `high` along x (an extrapolation's uncertainty).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub colour: usize,
    /// (x, low, high), in increasing x.
    pub points: Vec<(f64, f64, f64)>,
    pub title: String,
}

/// A vertical marker at x, labelled (a crossover batch size).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub y_log: bool,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
    pub markers: Vec<Marker>,
    /// Tick label formats.
    pub x_fmt: fn(f64) -> String,
    pub y_fmt: fn(f64) -> String,
    pub width: f64,
    pub height: f64,
}

fn plain(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        crate::fmt_rate(v)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

/// Escapes text for SVG and HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const LEFT: f64 = 70.0;
const RIGHT: f64 = 18.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 46.0;
const LEGEND_ROW: f64 = 17.0;
/// Room for a legend entry's line and marker, and the width of one character of its label
/// (an upper estimate for the 11 px sans-serif the plots use).
const LEGEND_MARK: f64 = 30.0;
const LEGEND_CHAR: f64 = 6.4;

/// An axis: maps data to pixels.
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
}

impl Axis {
    fn new(log: bool, values: &[f64], from: f64, to: f64) -> Axis {
        let vs: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        let (mut lo, mut hi) = vs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |m, v| {
            (m.0.min(*v), m.1.max(*v))
        });
        if vs.is_empty() {
            (lo, hi) = if log { (1.0, 10.0) } else { (0.0, 1.0) };
        }
        if log {
            // Whole decades around the data, at least one.
            lo = 10f64.powf(lo.log10().floor());
            hi = 10f64.powf(hi.log10().ceil());
            if hi <= lo {
                hi = lo * 10.0;
            }
        } else {
            let span = if hi > lo {
                hi - lo
            } else {
                lo.abs().max(1.0) * 0.1
            };
            lo -= span * 0.06;
            hi += span * 0.06;
        }
        Axis {
            log,
            lo,
            hi,
            from,
            to,
        }
    }

    fn map(&self, v: f64) -> f64 {
        let t = if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.from + t * (self.to - self.from)
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.lo.log10().round() as i32,
                self.hi.log10().round() as i32,
            );
            let step = ((b - a) as f64 / 7.0).ceil().max(1.0) as i32;
            (a..=b)
                .step_by(step as usize)
                .map(|e| 10f64.powi(e))
                .collect()
        } else {
            let raw = (self.hi - self.lo) / 6.0;
            let mag = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 2.5, 5.0, 10.0]
                .iter()
                .map(|m| m * mag)
                .find(|s| *s >= raw)
                .unwrap_or(10.0 * mag);
            let mut t = (self.lo / step).ceil() * step;
            let mut out = Vec::new();
            while t <= self.hi + step * 1e-9 {
                out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
                t += step;
            }
            out
        }
    }

    fn contains(&self, v: f64) -> bool {
        v.is_finite()
            && (!self.log || v > 0.0)
            && v >= self.lo * 0.999999
            && v <= self.hi * 1.000001
    }
}

impl Chart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_log: false,
            y_log: false,
            series: Vec::new(),
            bands: Vec::new(),
            markers: Vec::new(),
            x_fmt: plain,
            y_fmt: plain,
            width: 560.0,
            height: 330.0,
        }
    }

    /// True when there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.points.is_empty()) && self.bands.is_empty()
    }

    /// The chart as one `<svg class="plot">` element. Points that a log axis cannot show
    /// (zero, negative) are left out.
    pub fn render(&self) -> String {
        let legend_rows = self.legend_rows();
        let total_h = self.height + legend_rows as f64 * LEGEND_ROW;
        let (w, h) = (self.width, self.height);
        let xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.x))
            .chain(self.bands.iter().flat_map(|b| b.points.iter().map(|p| p.0)))
            .chain(self.markers.iter().map(|m| m.x))
            .collect();
        let ys: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.y))
            .chain(
                self.bands
                    .iter()
                    .flat_map(|b| b.points.iter().flat_map(|p| [p.1, p.2])),
            )
            .collect();
        let xa = Axis::new(self.x_log, &xs, LEFT, w - RIGHT);
        let ya = Axis::new(self.y_log, &ys, h - BOTTOM, TOP);
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {total_h}" width="{w}" height="{total_h}" font-family="system-ui, sans-serif" font-size="11"><title>{}</title>"#,
            esc(&self.title)
        );
        let _ = write!(
            s,
            r#"<rect width="{w}" height="{total_h}" fill="white"/><text x="{LEFT}" y="18" font-size="13" font-weight="600">{}</text>"#,
            esc(&self.title)
        );
        // Grid and ticks.
        for t in xa.ticks() {
            let x = xa.map(t);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e4e4e4"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
                h - BOTTOM,
                h - BOTTOM + 15.0,
                esc(&(self.x_fmt)(t))
            );
        }
        for t in ya.ticks() {
            let y = ya.map(t);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{}</text>"##,
                w - RIGHT,
                LEFT - 5.0,
                y + 4.0,
                esc(&(self.y_fmt)(t))
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="#888"/>"##,
            w - RIGHT - LEFT,
            h - BOTTOM - TOP
        );
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222">{}{}</text>"##,
            (LEFT + w - RIGHT) / 2.0,
            h - 10.0,
            esc(&self.x_label),
            if self.x_log { " (log)" } else { "" }
        );
        let _ = write!(
            s,
            r##"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" fill="#222">{}{}</text>"##,
            (TOP + h - BOTTOM) / 2.0,
            esc(&self.y_label),
            if self.y_log { " (log)" } else { "" }
        );
        for b in &self.bands {
            let pts: Vec<&(f64, f64, f64)> = b
                .points
                .iter()
                .filter(|p| xa.contains(p.0) && ya.contains(p.1) && ya.contains(p.2))
                .collect();
            if pts.len() < 2 {
                continue;
            }
            let mut d = String::new();
            for (i, p) in pts.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    xa.map(p.0),
                    ya.map(p.2)
                );
            }
            for p in pts.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", xa.map(p.0), ya.map(p.1));
            }
            let _ = write!(
                s,
                r#"<path class="series band" d="{}Z" fill="{}" fill-opacity="0.18" stroke="none"><title>{}</title></path>"#,
                d,
                PALETTE[b.colour % PALETTE.len()],
                esc(&b.title)
            );
        }
        for m in &self.markers {
            if !xa.contains(m.x) {
                continue;
            }
            let x = xa.map(m.x);
            let _ = write!(
                s,
                r##"<line class="marker" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#b00020" stroke-width="1.5" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" fill="#b00020">{}</text>"##,
                h - BOTTOM,
                x + 4.0,
                TOP + 12.0,
                esc(&m.label)
            );
        }
        for se in &self.series {
            let colour = PALETTE[se.colour % PALETTE.len()];
            let pts: Vec<&Point> = se
                .points
                .iter()
                .filter(|p| xa.contains(p.x) && ya.contains(p.y))
                .collect();
            let _ = write!(s, r#"<g class="series"><title>{}</title>"#, esc(&se.label));
            if se.line && pts.len() > 1 {
                let d: Vec<String> = pts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        format!(
                            "{}{:.1},{:.1}",
                            if i == 0 { "M" } else { "L" },
                            xa.map(p.x),
                            ya.map(p.y)
                        )
                    })
                    .collect();
                let _ = write!(
                    s,
                    r#"<path d="{}" fill="none" stroke="{colour}" stroke-width="1.8"{}/>"#,
                    d.join(" "),
                    if se.dashed {
                        r#" stroke-dasharray="5 4""#
                    } else {
                        ""
                    }
                );
            }
            if se.markers {
                for p in &pts {
                    let (cx, cy) = (xa.map(p.x), ya.map(p.y));
                    let (fill, stroke) = if p.invalid {
                        ("white", GREY)
                    } else {
                        (colour, colour)
                    };
                    let r = if p.highlight { 5.5 } else { 3.2 };
                    let _ = write!(
                        s,
                        r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"{}><title>{}</title></circle>"#,
                        if p.invalid { r#" class="invalid""# } else { "" },
                        esc(&p.title)
                    );
                    if let Some(l) = &p.label {
                        let _ = write!(
                            s,
                            r##"<text x="{:.1}" y="{:.1}" fill="#222">{}</text>"##,
                            cx + 7.0,
                            cy - 6.0,
                            esc(l)
                        );
                    }
                    if p.highlight {
                        let _ = write!(
                            s,
                            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="8.5" fill="none" stroke="#111" stroke-width="1"/>"##
                        );
                    }
                }
            }
            s.push_str("</g>");
        }
        // Legend, below the plot: as many columns as the longest label allows (up to three),
        // labels cut to their column.
        let cols = self.legend_cols();
        let col_w = (w - LEFT - RIGHT) / cols as f64;
        let max_chars = ((col_w - LEGEND_MARK) / LEGEND_CHAR).floor().max(4.0) as usize;
        for (i, se) in self.legend_entries().iter().enumerate() {
            let x = LEFT + (i % cols) as f64 * col_w;
            let y = h + (i / cols) as f64 * LEGEND_ROW;
            let colour = PALETTE[se.colour % PALETTE.len()];
            let _ = write!(
                s,
                r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"{}/><circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                y - 4.0,
                x + 18.0,
                y - 4.0,
                if se.dashed {
                    r#" stroke-dasharray="5 4""#
                } else {
                    ""
                },
                x + 9.0,
                y - 4.0,
                x + 24.0,
                y,
                esc(&truncate(&se.label, max_chars))
            );
        }
        s.push_str("</svg>");
        s
    }

    fn legend_entries(&self) -> Vec<&Series> {
        self.series.iter().filter(|s| !s.label.is_empty()).collect()
    }

    /// Legend columns: three when the longest label fits a third of the width, else fewer.
    fn legend_cols(&self) -> usize {
        let longest = self
            .legend_entries()
            .iter()
            .map(|s| s.label.chars().count())
            .max()
            .unwrap_or(0) as f64;
        let room = self.width - LEFT - RIGHT;
        let need = LEGEND_MARK + longest * LEGEND_CHAR;
        ((room / need).floor() as usize).clamp(1, 3)
    }

    fn legend_rows(&self) -> usize {
        self.legend_entries().len().div_ceil(self.legend_cols())
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// One plot of a report: a file stem for the Markdown report, a caption, the SVG.
pub struct Figure {
    pub name: String,
    pub caption: String,
    pub svg: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_spans_whole_decades_and_maps_ends() {
        let a = Axis::new(true, &[3.0, 4096.0], 0.0, 100.0);
        assert_eq!((a.lo, a.hi), (1.0, 10_000.0));
        assert!((a.map(1.0) - 0.0).abs() < 1e-9 && (a.map(10_000.0) - 100.0).abs() < 1e-9);
        assert_eq!(a.ticks(), vec![1.0, 10.0, 100.0, 1000.0, 10_000.0]);
    }

    #[test]
    fn linear_ticks_are_round() {
        let a = Axis::new(false, &[0.55, 0.7], 0.0, 100.0);
        let t = a.ticks();
        assert!(t.len() >= 3, "{t:?}");
        for v in &t {
            assert!(((v * 1000.0).round() - v * 1000.0).abs() < 1e-6, "{t:?}");
        }
    }

    #[test]
    fn invalid_points_are_grey_and_titled_and_log_axes_drop_zeros() {
        let mut c = Chart::new("t", "x", "y");
        c.y_log = true;
        let mut bad = Point::new(2.0, 5.0).titled("unstable: cv 14%");
        bad.invalid = true;
        c.series.push(Series::line(
            "a<b",
            0,
            vec![Point::new(1.0, 0.0), Point::new(1.5, 3.0), bad],
        ));
        let s = c.render();
        assert!(s.contains(r#"class="invalid""#) && s.contains("unstable: cv 14%"));
        assert!(s.contains("a&lt;b"), "labels are escaped");
        assert_eq!(
            s.matches("<circle").count() - 1,
            2,
            "the zero is not drawn on a log axis"
        );
    }
}
