//! The QR code image of a new virtual MFA device (CreateVirtualMFADevice's `QRCodePNG`): a PNG of
//! the `otpauth://` URI that authenticator apps scan.

use qrcode::{Color, QrCode};

/// Pixels per QR module.
const SCALE: usize = 4;
/// Modules of light border around the code (the quiet zone the QR standard asks for).
const QUIET: usize = 4;

/// The `otpauth://` URI of a device, as AWS's QR codes encode it (IAM API Reference,
/// CreateVirtualMFADevice): `otpauth://totp/$virtualMFADeviceName@$AccountName?secret=$Base32String`,
/// the account named by its alias if it has one, else by its id.
pub fn otpauth_uri(device_name: &str, account_name: &str, base32_seed: &str) -> String {
    format!(
        "otpauth://totp/{}@{}?secret={base32_seed}",
        percent_encoding::utf8_percent_encode(device_name, percent_encoding::NON_ALPHANUMERIC),
        percent_encoding::utf8_percent_encode(account_name, percent_encoding::NON_ALPHANUMERIC),
    )
}

/// A grayscale PNG of the QR code of `text`.
pub fn png(text: &str) -> Result<Vec<u8>, String> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| format!("making a QR code: {e}"))?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![0xffu8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for y in my * SCALE..(my + 1) * SCALE {
            let row = y * side;
            pixels[row + mx * SCALE..row + (mx + 1) * SCALE].fill(0);
        }
    }
    let side = u32::try_from(side).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| format!("writing a PNG: {e}"))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| format!("writing a PNG: {e}"))?;
        writer.finish().map_err(|e| format!("writing a PNG: {e}"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uri_names_device_and_account() {
        assert_eq!(
            otpauth_uri("my phone", "123456789012", "ABC"),
            "otpauth://totp/my%20phone@123456789012?secret=ABC"
        );
    }

    #[test]
    fn the_image_is_a_png_with_a_quiet_zone() {
        let image = png("otpauth://totp/a@b?secret=ABC").expect("png");
        assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(image));
        let mut reader = decoder.read_info().expect("header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("frame");
        assert_eq!(info.width, info.height);
        // The corner is quiet zone (light); the finder pattern just inside it is dark.
        assert_eq!(buf[0], 0xff);
        let inside = QUIET * SCALE;
        assert_eq!(buf[inside * info.width as usize + inside], 0);
    }
}
