//! HLS playlist text and the `CODECS` values they carry.

use std::fmt::Write;

/// One media segment as a media playlist lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEntry {
    /// File name relative to the playlist, such as `seg_1.m4s`.
    pub name: String,
    /// Duration in nanoseconds, from the muxer's fragment timestamps.
    pub duration_ns: u64,
    /// Size in bytes as written (after encryption when encrypted).
    pub size: u64,
    /// AES-128 IV of the segment; `None` when the package is clear.
    pub iv: Option<[u8; 16]>,
}

/// Returns the text of a VOD media playlist with an `EXT-X-MAP` to `init.mp4`.
///
/// With a `key_uri`, every segment is preceded by its own `#EXT-X-KEY:METHOD=AES-128` with an
/// explicit IV. The key tags come after `EXT-X-MAP`, so the init segment stays clear.
pub fn media_playlist(segments: &[SegmentEntry], key_uri: Option<&str>) -> String {
    let target = segments.iter().map(|segment| (segment.duration_ns as f64 / 1e9).round() as u64).max().unwrap_or(1).max(1);
    let mut text = String::new();
    text.push_str("#EXTM3U\n#EXT-X-VERSION:6\n");
    let _ = writeln!(text, "#EXT-X-TARGETDURATION:{target}");
    text.push_str("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    text.push_str("#EXT-X-MAP:URI=\"init.mp4\"\n");
    for segment in segments {
        if let (Some(uri), Some(iv)) = (key_uri, segment.iv) {
            let _ = writeln!(text, "#EXT-X-KEY:METHOD=AES-128,URI=\"{}\",IV=0x{}", quoted(uri), hex::encode(iv));
        }
        let _ = writeln!(text, "#EXTINF:{:.6},\n{}", segment.duration_ns as f64 / 1e9, segment.name);
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

/// The audio rendition a master playlist announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioEntry {
    pub uri: String,
    pub channels: u32,
}

/// One `EXT-X-STREAM-INF` variant of a master playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantEntry {
    pub uri: String,
    /// Peak bit rate in bits per second, audio included.
    pub bandwidth: u64,
    /// Average bit rate in bits per second, audio included.
    pub average_bandwidth: u64,
    /// Full `CODECS` value, such as `avc1.64001f,mp4a.40.2`.
    pub codecs: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
}

/// Returns the text of a master playlist; the audio group is named `audio`.
pub fn master_playlist(variants: &[VariantEntry], audio: Option<&AudioEntry>) -> String {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if let Some(audio) = audio {
        let _ = writeln!(
            text,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Main\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"{}\"",
            audio.channels,
            quoted(&audio.uri)
        );
    }
    for variant in variants {
        let _ = write!(
            text,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\",RESOLUTION={}x{},FRAME-RATE={:.3}",
            variant.bandwidth, variant.average_bandwidth, variant.codecs, variant.width, variant.height, variant.frame_rate
        );
        if audio.is_some() {
            text.push_str(",AUDIO=\"audio\"");
        }
        let _ = writeln!(text, "\n{}", variant.uri);
    }
    text
}

/// Returns the RFC 6381 codec string of H.264 caps (`avc1.PPCCLL`) from their `codec_data`
/// (an `avcC` record: version, profile, constraint flags, level).
pub fn h264_codec_string(caps: &gst::CapsRef) -> Option<String> {
    let data = codec_data(caps)?;
    (data.len() >= 4).then(|| format!("avc1.{:02x}{:02x}{:02x}", data[1], data[2], data[3]))
}

/// Returns the RFC 6381 codec string of AAC caps (`mp4a.40.N`) from the audio object type in
/// their `codec_data` (an AudioSpecificConfig).
pub fn aac_codec_string(caps: &gst::CapsRef) -> Option<String> {
    let data = codec_data(caps)?;
    let object_type = data.first()? >> 3;
    (object_type != 0 && object_type != 31).then(|| format!("mp4a.40.{object_type}"))
}

fn codec_data(caps: &gst::CapsRef) -> Option<Vec<u8>> {
    let buffer = caps.structure(0)?.get::<gst::Buffer>("codec_data").ok()?;
    let map = buffer.map_readable().ok()?;
    Some(map.as_slice().to_vec())
}

/// Percent-encodes double quotes, which would end a quoted playlist attribute early.
fn quoted(uri: &str) -> String {
    uri.replace('"', "%22")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_media_playlist() {
        let segments = [
            SegmentEntry { name: "seg_1.m4s".into(), duration_ns: 6_006_000_000, size: 10, iv: None },
            SegmentEntry { name: "seg_2.m4s".into(), duration_ns: 1_500_000_000, size: 10, iv: None },
        ];
        let expected = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n\
            #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n\
            #EXTINF:6.006000,\nseg_1.m4s\n#EXTINF:1.500000,\nseg_2.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(media_playlist(&segments, None), expected);
    }

    #[test]
    fn encrypted_media_playlist_states_each_iv() {
        let segments = [SegmentEntry { name: "seg_1.m4s".into(), duration_ns: 2_000_000_000, size: 16, iv: Some([0x0f; 16]) }];
        let text = media_playlist(&segments, Some("https://media.example.com/api/key/abc"));
        let map = text.find("#EXT-X-MAP").unwrap();
        let key = text.find("#EXT-X-KEY").unwrap();
        assert!(map < key, "the init segment must come before the first key tag:\n{text}");
        assert!(text.contains(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"https://media.example.com/api/key/abc\",IV=0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f\n#EXTINF:2.000000,\nseg_1.m4s\n"
        ));
    }

    #[test]
    fn master_playlist_with_audio_group() {
        let variants = [VariantEntry {
            uri: "video/r720_h264/playlist.m3u8".into(),
            bandwidth: 2_100_000,
            average_bandwidth: 1_500_000,
            codecs: "avc1.64001f,mp4a.40.2".into(),
            width: 1280,
            height: 720,
            frame_rate: 30000.0 / 1001.0,
        }];
        let audio = AudioEntry { uri: "audio/und_aac_2ch/playlist.m3u8".into(), channels: 2 };
        let expected = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Main\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/und_aac_2ch/playlist.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2100000,AVERAGE-BANDWIDTH=1500000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=29.970,AUDIO=\"audio\"\n\
            video/r720_h264/playlist.m3u8\n";
        assert_eq!(master_playlist(&variants, Some(&audio)), expected);
    }

    #[test]
    fn codec_strings_from_codec_data() {
        gst::init().unwrap();
        let avcc = gst::Buffer::from_slice([1u8, 0x64, 0x00, 0x1f, 0xff]);
        let caps = gst::Caps::builder("video/x-h264").field("codec_data", avcc).build();
        assert_eq!(h264_codec_string(&caps).as_deref(), Some("avc1.64001f"));
        let asc = gst::Buffer::from_slice([0x12u8, 0x10]);
        let caps = gst::Caps::builder("audio/mpeg").field("codec_data", asc).build();
        assert_eq!(aac_codec_string(&caps).as_deref(), Some("mp4a.40.2"));
    }
}
