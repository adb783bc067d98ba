//! Integration tests of idseal-barcode: PNG round trips, SVG structure, bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use idseal_barcode::{BarcodeError, EcLevel, RenderOptions, Symbology, decode_png, encode, render_png, render_svg};

/// Deterministic pseudo-random bytes (SplitMix64).
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)).to_le_bytes()[0]
        })
        .collect()
}

/// A VDS-like text of 1056 characters: the prefix and 700 bytes (starting `DE 03`) in Base45.
fn vds_text(seed: u64) -> String {
    let mut binary = vec![0xDE, 0x03];
    binary.extend(random_bytes(seed, 698));
    let text = format!("VDSEUA{}", idseal_vds::base45::encode(&binary));
    assert_eq!(text.len(), 1056);
    assert!(text.contains(' '), "the sample should contain spaces");
    text
}

fn round_trip(text: &str, opts: &RenderOptions) {
    let png = render_png(text, opts).unwrap();
    let decoded = decode_png(&png).unwrap();
    assert_eq!(decoded.as_bytes(), text.as_bytes(), "{:?}", opts);
}

#[test]
fn qr_round_trip_print_and_screen() {
    let text = vds_text(1);
    round_trip(&text, &RenderOptions::print());
    round_trip(&text, &RenderOptions::screen());
}

#[test]
fn aztec_round_trip_print_and_screen() {
    let text = vds_text(2);
    round_trip(&text, &RenderOptions::print().with_symbology(Symbology::Aztec));
    round_trip(&text, &RenderOptions::screen().with_symbology(Symbology::Aztec));
}

#[test]
fn leading_and_trailing_spaces_survive() {
    // Base45 can begin or end with a space; a seal's text is never trimmed.
    let text = format!("  {}  ", vds_text(3));
    for symbology in [Symbology::Qr, Symbology::Aztec] {
        round_trip(&text, &RenderOptions::screen().with_symbology(symbology));
        round_trip(" VDSEUA 03S ", &RenderOptions::screen().with_symbology(symbology));
    }
}

#[test]
fn every_ec_level_round_trips() {
    let text = vds_text(4);
    for level in [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H] {
        let mut opts = RenderOptions::screen();
        opts.error_correction = level;
        round_trip(&text, &opts);
    }
    let mut opts = RenderOptions::screen().with_symbology(Symbology::Aztec);
    opts.aztec_ec_percent = 50;
    round_trip(&text, &opts);
}

#[test]
fn base64_text_round_trips_in_byte_mode() {
    let text = "VDSEUA3gPdiX7F5N/xGTUx+R0aBceV2P8kTs=";
    let symbol = encode(text, &RenderOptions::screen()).unwrap();
    assert!(!symbol.is_qr_alphanumeric());
    round_trip(text, &RenderOptions::screen());
    round_trip(text, &RenderOptions::screen().with_symbology(Symbology::Aztec));
}

#[test]
fn qr_size_of_a_seal_is_what_the_alphanumeric_mode_gives() {
    // 1056 Base45 characters at level M: alphanumeric capacity is 1035 at version 21 and 1134
    // at version 22 (ISO/IEC 18004 Table 7); byte mode (1059 at version 26) would need 26.
    let symbol = encode(&vds_text(5), &RenderOptions::print()).unwrap();
    assert!(symbol.is_qr_alphanumeric());
    assert_eq!(symbol.version(), 22);
    assert_eq!(symbol.side(), 105);
}

#[test]
fn svg_is_well_formed_and_sized() {
    let text = vds_text(6);
    for symbology in [Symbology::Qr, Symbology::Aztec] {
        let opts = RenderOptions::print().with_symbology(symbology);
        let side = encode(&text, &opts).unwrap().side();
        let total = side + 2 * opts.quiet_zone_modules;
        let svg = render_svg(&text, &opts).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        assert_eq!(root.attribute("viewBox"), Some(format!("0 0 {total} {total}").as_str()));
        assert_eq!(root.attribute("shape-rendering"), Some("crispEdges"));
        let width_mm = f64::from(total) * 12.0 * 25.4 / 600.0;
        assert_eq!(root.attribute("width"), Some(format!("{width_mm:.3}mm").as_str()));
        assert_eq!(root.attribute("height"), root.attribute("width"));

        let elements: Vec<_> = root.descendants().filter(|n| n.is_element()).collect();
        let names: Vec<_> = elements.iter().map(|n| n.tag_name().name()).collect();
        assert_eq!(names, ["svg", "rect", "path"]);
        for node in &elements {
            for attribute in node.attributes() {
                assert!(!attribute.name().contains("href"), "external reference in {svg}");
                assert!(!attribute.name().starts_with("on"), "event handler in {svg}");
            }
        }
        let d = elements[2].attribute("d").unwrap();
        assert!(d.starts_with('M') && d.ends_with('z'));
    }
}

#[test]
fn svg_of_the_screen_preset() {
    let svg = render_svg("VDSEUA", &RenderOptions::screen()).unwrap();
    // Version 1 (21 modules) + 8 quiet = 29 modules of 6 px at 96 dpi (1.5875 mm) = 46.0375 mm.
    assert!(svg.contains("width=\"46.037mm\""), "{svg}");
}

#[test]
fn too_long_for_any_symbol() {
    let long = idseal_vds::base45::encode(&random_bytes(7, 3000)); // 4500 characters
    for symbology in [Symbology::Qr, Symbology::Aztec] {
        let opts = RenderOptions::print().with_symbology(symbology);
        assert_eq!(render_png(&long, &opts), Err(BarcodeError::TooLongForSymbol { symbology, len: 4500 }));
        assert!(matches!(render_svg(&long, &opts), Err(BarcodeError::TooLongForSymbol { .. })));
    }
}

#[test]
fn noise_has_no_code() {
    let (width, height) = (400u32, 300u32);
    let pixels = random_bytes(8, (width * height) as usize);
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    assert_eq!(decode_png(&png), Err(BarcodeError::NoCodeFound));

    let blank = encode_gray(64, 64, &[255; 64 * 64]);
    assert_eq!(decode_png(&blank), Err(BarcodeError::NoCodeFound));
}

fn encode_gray(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(pixels).unwrap();
    writer.finish().unwrap();
    png
}

#[test]
fn garbage_is_a_malformed_image() {
    let valid = render_png("VDSEUA", &RenderOptions::screen()).unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"not a png".to_vec(),
        random_bytes(9, 4096),
        valid[..valid.len() / 2].to_vec(),
        valid[..8].to_vec(),
    ];
    let mut flipped = valid.clone();
    flipped[18] ^= 0x01; // the width in IHDR: a CRC error in a critical chunk
    cases.push(flipped);
    let idat = valid.windows(4).position(|w| w == b"IDAT").unwrap();
    let mut flipped = valid.clone();
    flipped[idat + 10] ^= 0x55; // image data: a CRC error
    cases.push(flipped);
    for bytes in cases {
        assert!(matches!(decode_png(&bytes), Err(BarcodeError::MalformedImage(_))), "{bytes:?}");
    }
}

#[test]
fn huge_dimensions_are_refused_before_decoding() {
    // A valid header claiming 65536 × 65536 pixels, with no image data.
    let mut png = Vec::new();
    let encoder = png::Encoder::new(&mut png, 65_536, 65_536);
    drop(encoder.write_header().unwrap());
    assert_eq!(decode_png(&png), Err(BarcodeError::ImageTooLarge { width: 65_536, height: 65_536 }));
}

#[test]
fn transparent_rgba_png_decodes() {
    // Dark modules as opaque black, light ones fully transparent (black RGB): composed over white.
    let text = vds_text(10);
    let opts = RenderOptions::screen();
    let symbol = encode(&text, &opts).unwrap();
    let px = opts.module_px;
    let quiet = opts.quiet_zone_modules;
    let side = (symbol.side() + 2 * quiet) * px;
    let mut rgba = Vec::new();
    for y in 0..side {
        for x in 0..side {
            let module = |v: u32| (v / px).checked_sub(quiet);
            let dark = module(x).zip(module(y)).is_some_and(|(mx, my)| symbol.is_dark(mx, my));
            rgba.extend_from_slice(&[0, 0, 0, if dark { 255 } else { 0 }]);
        }
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, side, side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&rgba).unwrap();
    writer.finish().unwrap();
    assert_eq!(decode_png(&png).unwrap(), text);
}

#[test]
fn mutated_pngs_never_panic() {
    let valid = render_png(&vds_text(11), &RenderOptions::screen()).unwrap();
    let noise = random_bytes(12, 3 * 200);
    for step in noise.chunks_exact(3) {
        let mut bytes = valid.clone();
        let at = (usize::from(step[0]) << 8 | usize::from(step[1])) % bytes.len();
        bytes[at] ^= step[2] | 1;
        // Any outcome but a panic: most flips break a CRC, some land in ignored bytes.
        let _ = decode_png(&bytes);
    }
}
