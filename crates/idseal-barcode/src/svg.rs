//! SVG output: one path of module rectangles on a white background.

use std::fmt::Write as _;

use crate::{RenderOptions, Symbol};

pub(crate) fn to_svg(symbol: &Symbol, opts: &RenderOptions) -> String {
    let quiet = opts.quiet_zone_modules;
    let total = symbol.side() + 2 * quiet;
    let size_mm = f64::from(total) * opts.module_mm();
    let mut path = String::new();
    for y in 0..symbol.side() {
        for (x, len) in symbol.dark_runs(y) {
            // Writing to a String cannot fail.
            let _ = write!(path, "M{},{}h{len}v1h-{len}z", x + quiet, y + quiet);
        }
    }
    format!(
        concat!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" ",
            "width=\"{size:.3}mm\" height=\"{size:.3}mm\" viewBox=\"0 0 {total} {total}\" ",
            "shape-rendering=\"crispEdges\">",
            "<rect width=\"{total}\" height=\"{total}\" fill=\"#ffffff\"/>",
            "<path fill=\"#000000\" d=\"{path}\"/>",
            "</svg>\n"
        ),
        size = size_mm,
        total = total,
        path = path,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;

    #[test]
    fn small_svg() {
        let mut opts = RenderOptions::print();
        opts.quiet_zone_modules = 2;
        let symbol = encode("A", &opts).unwrap();
        let svg = to_svg(&symbol, &opts);
        // Version 1: 21 modules plus 2 × 2 of quiet zone = 25 modules of 0.508 mm.
        assert!(svg.contains("viewBox=\"0 0 25 25\""), "{svg}");
        assert!(svg.contains("width=\"12.700mm\" height=\"12.700mm\""), "{svg}");
        // The top-left finder pattern starts with a run of 7 dark modules at (2, 2).
        assert!(svg.contains("d=\"M2,2h7v1h-7z"), "{svg}");
        assert_eq!(svg.matches("<path").count(), 1);
    }
}
