//! The H.264 rendition ladder: which rungs a source gets and at what size.

/// One rung of the ladder: a bounding box (always landscape) with its encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    /// Label such as `r720`.
    pub label: &'static str,
    pub box_width: u32,
    pub box_height: u32,
    /// x264 constant rate factor.
    pub crf: u32,
}

/// The rungs from the highest to the lowest.
pub const RUNGS: [Rung; 5] = [
    Rung { label: "r1080", box_width: 1920, box_height: 1080, crf: 22 },
    Rung { label: "r720", box_width: 1280, box_height: 720, crf: 23 },
    Rung { label: "r480", box_width: 854, box_height: 480, crf: 24 },
    Rung { label: "r360", box_width: 640, box_height: 360, crf: 26 },
    Rung { label: "r240", box_width: 426, box_height: 240, crf: 28 },
];

/// A rung resolved for one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendition {
    pub rung: Rung,
    pub width: u32,
    pub height: u32,
    /// Nominal bit rate in bits per second, by resolved height; also the encoder's VBV maximum.
    pub bandwidth: u64,
}

impl Rendition {
    /// Returns the rendition id and folder name, such as `r720_h264`.
    pub fn id(&self) -> String {
        format!("{}_h264", self.rung.label)
    }
}

/// Resolves the ladder for a source whose upright display size is `width` x `height`.
///
/// A rung is kept when the shorter side of its box is no longer than the source's shorter side.
/// Each kept rung is fitted inside the box and the source size (so never upscaled), keeping the
/// aspect ratio, with even sides. A portrait source fits the same landscape boxes, so 1080x1920
/// gets 608x1080 for `r1080`. When no rung qualifies, only the smallest is kept, fitted to the
/// source.
pub fn resolve_ladder(width: u32, height: u32) -> Vec<Rendition> {
    let source_short = width.min(height);
    let mut renditions: Vec<Rendition> = RUNGS
        .iter()
        .filter(|rung| rung.box_width.min(rung.box_height) <= source_short)
        .map(|rung| fit(*rung, width, height))
        .collect();
    if renditions.is_empty() {
        renditions.push(fit(RUNGS[RUNGS.len() - 1], width, height));
    }
    renditions
}

fn fit(rung: Rung, width: u32, height: u32) -> Rendition {
    let limit_width = f64::from(width.min(rung.box_width));
    let limit_height = f64::from(height.min(rung.box_height));
    let scale = (limit_width / f64::from(width)).min(limit_height / f64::from(height));
    let fitted_width = even(f64::from(width) * scale);
    let fitted_height = even(f64::from(height) * scale);
    Rendition { rung, width: fitted_width, height: fitted_height, bandwidth: bandwidth_for_height(fitted_height) }
}

/// Rounds to the nearest even number (halves up), at least 2.
fn even(value: f64) -> u32 {
    (((value / 2.0) + 0.5).floor() as u32 * 2).max(2)
}

/// Returns the nominal bit rate for a rendition of the given height, in bits per second.
pub fn bandwidth_for_height(height: u32) -> u64 {
    match height {
        1080.. => 5_000_000,
        720.. => 2_500_000,
        480.. => 1_000_000,
        360.. => 500_000,
        240.. => 300_000,
        _ => 200_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(renditions: &[Rendition]) -> Vec<(String, u32, u32)> {
        renditions.iter().map(|rendition| (rendition.id(), rendition.width, rendition.height)).collect()
    }

    fn owned(expected: &[(&str, u32, u32)]) -> Vec<(String, u32, u32)> {
        expected.iter().map(|(id, width, height)| ((*id).to_owned(), *width, *height)).collect()
    }

    #[test]
    fn landscape_1080p_gets_every_rung() {
        let ladder = resolve_ladder(1920, 1080);
        let expected = [
            ("r1080_h264", 1920, 1080),
            ("r720_h264", 1280, 720),
            ("r480_h264", 854, 480),
            ("r360_h264", 640, 360),
            ("r240_h264", 426, 240),
        ];
        assert_eq!(sizes(&ladder), owned(&expected));
        assert_eq!(ladder[0].bandwidth, 5_000_000);
    }

    #[test]
    fn portrait_fits_landscape_boxes() {
        let ladder = resolve_ladder(1080, 1920);
        let expected = [
            ("r1080_h264", 608, 1080),
            ("r720_h264", 406, 720),
            ("r480_h264", 270, 480),
            ("r360_h264", 202, 360),
            ("r240_h264", 136, 240),
        ];
        assert_eq!(sizes(&ladder), owned(&expected));
        assert_eq!(ladder[0].bandwidth, 5_000_000);
    }

    #[test]
    fn small_source_is_never_upscaled() {
        assert_eq!(sizes(&resolve_ladder(640, 360)), owned(&[("r360_h264", 640, 360), ("r240_h264", 426, 240)]));
        let tiny = resolve_ladder(320, 180);
        assert_eq!(sizes(&tiny), owned(&[("r240_h264", 320, 180)]));
        assert_eq!(tiny[0].bandwidth, 200_000);
    }

    #[test]
    fn odd_source_gets_even_sides() {
        for rendition in resolve_ladder(518, 488).iter().chain(&resolve_ladder(1138, 641)) {
            assert_eq!(rendition.width % 2, 0, "{rendition:?}");
            assert_eq!(rendition.height % 2, 0, "{rendition:?}");
        }
    }
}
