//! Scanning a QR code with a camera.
//!
//! Only with the `camera` feature (`nokhwa`, which needs the platform's camera
//! libraries to build). Without it the dialog offers pictures and the
//! clipboard instead, and [`scan`] says so.

use crate::qr::ScanError;

/// Frames to try before giving up (about ten seconds at common frame rates).
#[cfg(feature = "camera")]
const MAX_FRAMES: usize = 300;

/// Open the first camera and look for a Kith QR code. Blocking: run it on
/// the blocking pool.
pub(crate) fn scan() -> Result<String, ScanError> {
    scan_with(|text| {
        kith_core::ContactLink::parse(text)
            .map(|l| l.to_string())
            .map_err(|e| ScanError::NotAKithLink(e.to_string()))
    })
}

/// Open the first camera and look for a QR code that `parse` accepts (a
/// link, a meet code). Blocking: run it on the blocking pool.
#[cfg(feature = "camera")]
pub(crate) fn scan_with(
    parse: impl Fn(&str) -> Result<String, ScanError>,
) -> Result<String, ScanError> {
    use nokhwa::pixel_format::LumaFormat;
    use nokhwa::utils::{CameraIndex, RequestedFormat, RequestedFormatType};

    let requested =
        RequestedFormat::new::<LumaFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
    let mut camera = nokhwa::Camera::new(CameraIndex::Index(0), requested)
        .map_err(|e| ScanError::NotAnImage(format!("no usable camera: {e}")))?;
    camera
        .open_stream()
        .map_err(|e| ScanError::NotAnImage(format!("the camera did not start: {e}")))?;
    let mut last = ScanError::NoQrCode;
    for _ in 0..MAX_FRAMES {
        let frame = match camera.frame() {
            Ok(f) => f,
            Err(e) => {
                last = ScanError::NotAnImage(format!("the camera stopped: {e}"));
                break;
            }
        };
        let Ok(luma) = frame.decode_image::<LumaFormat>() else {
            continue;
        };
        let (w, h) = (luma.width(), luma.height());
        let Some(img) = image::GrayImage::from_raw(w, h, luma.into_raw()) else {
            continue;
        };
        match crate::qr::decode_luma_with(&img, &parse) {
            Ok(text) => {
                let _ = camera.stop_stream();
                return Ok(text);
            }
            Err(e @ (ScanError::NotAKithLink(_) | ScanError::NotAMeetCode(_))) => last = e,
            Err(_) => {}
        }
    }
    let _ = camera.stop_stream();
    Err(last)
}

/// Without the `camera` feature there is no camera path.
#[cfg(not(feature = "camera"))]
pub(crate) fn scan_with(
    _parse: impl Fn(&str) -> Result<String, ScanError>,
) -> Result<String, ScanError> {
    Err(ScanError::NotAnImage(
        "this build of Kith has no camera support (build with --features camera)".into(),
    ))
}
