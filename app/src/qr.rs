//! QR codes: draw my link or meet code, read someone else's from an image.
//!
//! Rendering uses `qrcode`, reading uses `rqrr`. Everything here is pure and
//! synchronous; callers run decoding off the UI thread (it can take a while
//! on a large photo).

use kith_core::ContactLink;

/// Light border around the code, in modules (the QR standard asks for 4).
const QUIET_ZONE: usize = 4;
/// Largest side we scan; bigger images are scaled down first.
const MAX_SCAN_SIDE: u32 = 1600;
/// Largest image file we read, in bytes.
pub const MAX_IMAGE_FILE: u64 = 32 * 1024 * 1024;

/// Why reading a QR code failed, in words for the person holding the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// The bytes are not an image we can read.
    NotAnImage(String),
    /// An image, but no QR code could be found or read in it.
    NoQrCode,
    /// A QR code, but not a Kith link.
    NotAKithLink(String),
    /// A QR code, but not a meet code (meeting in person).
    NotAMeetCode(String),
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::NotAnImage(e) => {
                write!(f, "This file is not a picture Kith can read ({e}).")
            }
            ScanError::NoQrCode => f.write_str("No QR code was found in this picture."),
            ScanError::NotAKithLink(e) => {
                write!(f, "This QR code is not a Kith contact link ({e}).")
            }
            ScanError::NotAMeetCode(e) => {
                write!(f, "This QR code is not a Kith meet code ({e}).")
            }
        }
    }
}

/// The modules of a link's QR code, `true` for dark, row by row, with the
/// quiet zone included. Returns the side length too.
#[cfg(test)]
pub(crate) fn modules(link: &ContactLink) -> (usize, Vec<bool>) {
    payload_modules(&link.qr_payload())
}

/// The modules of the QR code of any short text (a link, a meet code).
pub(crate) fn payload_modules(payload: &str) -> (usize, Vec<bool>) {
    // A link is at most MAX_LINK_LEN bytes, a meet code 160: far below a QR
    // code's capacity.
    let code = match qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M) {
        Ok(c) => c,
        Err(_) => return (0, vec![]),
    };
    let w = code.width();
    let side = w + 2 * QUIET_ZONE;
    let colors = code.to_colors();
    let mut out = vec![false; side * side];
    for y in 0..w {
        for x in 0..w {
            out[(y + QUIET_ZONE) * side + x + QUIET_ZONE] =
                colors[y * w + x] == qrcode::Color::Dark;
        }
    }
    (side, out)
}

/// The link's QR code as a greyscale picture, `scale` pixels per module.
#[cfg(test)]
pub(crate) fn render_gray(link: &ContactLink, scale: u32) -> image::GrayImage {
    render_gray_payload(&link.qr_payload(), scale)
}

/// The QR code of any short text as a greyscale picture.
pub(crate) fn render_gray_payload(payload: &str, scale: u32) -> image::GrayImage {
    let (side, m) = payload_modules(payload);
    let scale = scale.max(1);
    let px = u32::try_from(side).unwrap_or(0) * scale;
    image::GrayImage::from_fn(px, px, |x, y| {
        let (mx, my) = ((x / scale) as usize, (y / scale) as usize);
        if m[my * side + mx] {
            image::Luma([0])
        } else {
            image::Luma([255])
        }
    })
}

/// The link's QR code as PNG bytes.
pub fn render_png(link: &ContactLink, scale: u32) -> Result<Vec<u8>, image::ImageError> {
    render_payload_png(&link.qr_payload(), scale)
}

/// The QR code of any short text (a meet code's QR payload) as PNG bytes.
pub fn render_payload_png(payload: &str, scale: u32) -> Result<Vec<u8>, image::ImageError> {
    let img = render_gray_payload(payload, scale);
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// The link's QR code as an egui image (one pixel per module; draw it with
/// nearest-neighbour filtering).
pub(crate) fn render_egui(link: &ContactLink) -> egui::ColorImage {
    render_egui_payload(&link.qr_payload())
}

/// The QR code of any short text as an egui image (see [`render_egui`]).
pub(crate) fn render_egui_payload(payload: &str) -> egui::ColorImage {
    let (side, m) = payload_modules(payload);
    let pixels = m
        .iter()
        .map(|&dark| {
            if dark {
                egui::Color32::BLACK
            } else {
                egui::Color32::WHITE
            }
        })
        .collect();
    egui::ColorImage::new([side, side], pixels)
}

/// Read a contact link from an encoded picture (PNG, JPEG).
pub fn decode_image_bytes(bytes: &[u8]) -> Result<ContactLink, ScanError> {
    decode_image_bytes_with(bytes, parse_link)
}

/// A QR code's text as a contact link.
fn parse_link(text: &str) -> Result<ContactLink, ScanError> {
    ContactLink::parse(text).map_err(|e| ScanError::NotAKithLink(e.to_string()))
}

/// Read the first QR code that `parse` accepts from an encoded picture.
pub(crate) fn decode_image_bytes_with<T>(
    bytes: &[u8],
    parse: impl Fn(&str) -> Result<T, ScanError>,
) -> Result<T, ScanError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ScanError::NotAnImage(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| ScanError::NotAnImage(e.to_string()))?;
    decode_luma_with(&img.to_luma8(), parse)
}

/// Read a contact link from RGBA pixels (as the clipboard gives them).
pub(crate) fn decode_rgba(
    width: u32,
    height: u32,
    rgba: Vec<u8>,
) -> Result<ContactLink, ScanError> {
    decode_rgba_with(width, height, rgba, parse_link)
}

/// Read the first QR code that `parse` accepts from RGBA pixels.
pub(crate) fn decode_rgba_with<T>(
    width: u32,
    height: u32,
    rgba: Vec<u8>,
    parse: impl Fn(&str) -> Result<T, ScanError>,
) -> Result<T, ScanError> {
    let img = image::RgbaImage::from_raw(width, height, rgba)
        .ok_or_else(|| ScanError::NotAnImage("truncated pixels".into()))?;
    decode_luma_with(&image::DynamicImage::ImageRgba8(img).to_luma8(), parse)
}

/// Read the first QR code that `parse` accepts from greyscale pixels; when
/// codes are found but none is accepted, the last refusal.
pub(crate) fn decode_luma_with<T>(
    img: &image::GrayImage,
    parse: impl Fn(&str) -> Result<T, ScanError>,
) -> Result<T, ScanError> {
    let img = if img.width().max(img.height()) > MAX_SCAN_SIDE {
        image::imageops::resize(
            img,
            (img.width() * MAX_SCAN_SIDE / img.width().max(img.height())).max(1),
            (img.height() * MAX_SCAN_SIDE / img.width().max(img.height())).max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        img.clone()
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Err(ScanError::NoQrCode);
    }
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        img.get_pixel(x as u32, y as u32)[0]
    });
    let mut last_err = None;
    for grid in prepared.detect_grids() {
        if let Ok((_, text)) = grid.decode() {
            match parse(&text) {
                Ok(v) => return Ok(v),
                Err(e) => last_err = Some(e),
            }
        }
    }
    Err(last_err.unwrap_or(ScanError::NoQrCode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> ContactLink {
        ContactLink::parse(
            "kith://pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd?tcp=127.0.0.1:9101",
        )
        .unwrap()
    }

    #[test]
    fn png_round_trip() {
        let png = render_png(&link(), 6).unwrap();
        assert_eq!(decode_image_bytes(&png).unwrap(), link());
    }

    #[test]
    fn egui_image_matches_modules() {
        let img = render_egui(&link());
        let (side, m) = modules(&link());
        assert_eq!(img.size, [side, side]);
        assert_eq!(
            m.iter().filter(|d| **d).count(),
            img.pixels
                .iter()
                .filter(|p| **p == egui::Color32::BLACK)
                .count()
        );
    }

    #[test]
    fn junk_is_reported() {
        assert!(matches!(
            decode_image_bytes(b"not a picture"),
            Err(ScanError::NotAnImage(_))
        ));
        let blank = image::GrayImage::from_pixel(200, 200, image::Luma([255]));
        assert_eq!(
            decode_luma_with(&blank, parse_link),
            Err(ScanError::NoQrCode)
        );
        let code = qrcode::QrCode::new("https://example.org").unwrap();
        let w = code.width();
        let colors = code.to_colors();
        let img = image::GrayImage::from_fn((w as u32 + 8) * 4, (w as u32 + 8) * 4, |x, y| {
            let (mx, my) = ((x / 4) as usize, (y / 4) as usize);
            let dark = mx >= 4
                && my >= 4
                && mx < w + 4
                && my < w + 4
                && colors[(my - 4) * w + mx - 4] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        });
        assert!(matches!(
            decode_luma_with(&img, parse_link),
            Err(ScanError::NotAKithLink(_))
        ));
    }

    #[test]
    fn big_photo_is_scaled() {
        let small = render_gray(&link(), 40);
        let mut big = image::GrayImage::from_pixel(4000, 3000, image::Luma([255]));
        image::imageops::overlay(&mut big, &small, 100, 100);
        assert_eq!(decode_luma_with(&big, parse_link).unwrap(), link());
    }
}
