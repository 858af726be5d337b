//! `--image PATH|URL`: files are sniffed by their bytes (not their name) and base64-encoded;
//! http(s) and data: URLs are passed through. Each provider formats the result itself.

use base64::Engine;

use crate::chat::ImageSource;
use crate::error::{Error, Result};
use crate::input::io_reason;

/// The formats both APIs accept.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

pub fn load(spec: &str) -> Result<ImageSource> {
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return Ok(ImageSource::Url(spec.to_string()));
    }
    if let Some(rest) = spec.strip_prefix("data:") {
        let (media_type, data) = rest
            .split_once(";base64,")
            .ok_or_else(|| Error::usage("--image data: URL must be data:<type>;base64,<data>"))?;
        return Ok(ImageSource::Base64 {
            media_type: media_type.to_string(),
            data: data.to_string(),
        });
    }
    let bytes = std::fs::File::open(spec)
        .and_then(crate::input::read_bounded)
        .map_err(|e| Error::usage(format!("cannot read image {spec}: {}", io_reason(&e))))?;
    let media_type = sniff(&bytes).ok_or_else(|| {
        Error::usage(format!(
            "image {spec} is not a PNG, JPEG, GIF or WebP file (judged by its content)"
        ))
        .with_hint("convert it to PNG or JPEG, or pass an http(s) URL")
    })?;
    Ok(ImageSource::Base64 {
        media_type: media_type.to_string(),
        data: base64::engine::general_purpose::STANDARD.encode(&bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b""), None);
    }
}
