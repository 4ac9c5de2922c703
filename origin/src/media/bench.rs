//! Benchmark of the HLS ladder: the same rungs from the same input through [`transcode_hls`] and
//! through the ffmpeg command line, compared by wall time, CPU time and peak memory.
//!
//! Linux only: CPU time and peak memory come from `/proc`. The in-process peak is reset through
//! `/proc/self/clear_refs` before each of our runs. ffmpeg's figures are sampled from
//! `/proc/{pid}` every 20 ms, so they can miss the last 20 ms of its run.
//!
//! Repeated runs alternate which side goes first, so that neither always meets memory no earlier
//! run has touched, and the report gives the median of each figure.

use std::fmt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::error::{ErrorCode, MediaError};
use super::hls::{gop_frames, output_frame_rate, transcode_hls, TranscodeConfig, AUDIO_BITRATE};
use super::ladder::resolve_ladder;
use super::probe::probe;

/// Kernel clock ticks per second for `/proc/*/stat` CPU times (the `USER_HZ` of Linux on x86 and
/// ARM builds).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Resources one run used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunCost {
    pub wall: Duration,
    /// User plus system CPU time, all threads.
    pub cpu: Duration,
    /// Peak resident memory in bytes.
    pub peak_memory: u64,
}

/// The runs of [`bench_transcode`]: the median of each figure over every run of a side.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub source: String,
    pub rungs: Vec<String>,
    /// How many times each side ran.
    pub runs: usize,
    /// Our resident memory in bytes after a run, once freed memory went back to the system (the
    /// median): what a worker keeps between jobs.
    pub retained_memory: u64,
    pub ours: RunCost,
    pub ffmpeg: RunCost,
}

impl RunCost {
    /// Returns the median wall time, CPU time and peak memory of `runs`, each taken on its own.
    fn median(runs: &[RunCost]) -> RunCost {
        RunCost {
            wall: median(runs.iter().map(|run| run.wall).collect()),
            cpu: median(runs.iter().map(|run| run.cpu).collect()),
            peak_memory: median(runs.iter().map(|run| run.peak_memory).collect()),
        }
    }
}

/// Returns the middle value of `values`, the upper one of the two middle values for an even count.
fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort_unstable();
    values[values.len() / 2]
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "source: {}", self.source)?;
        writeln!(f, "rungs: {}", self.rungs.join(", "))?;
        if self.runs > 1 {
            writeln!(f, "runs: {} each, order alternating, medians shown", self.runs)?;
        }
        writeln!(f, "| pipeline | wall s | CPU s | peak MiB |")?;
        writeln!(f, "| --- | --- | --- | --- |")?;
        for (name, cost) in [("vylux (GStreamer)", self.ours), ("ffmpeg", self.ffmpeg)] {
            writeln!(
                f,
                "| {name} | {:.2} | {:.2} | {:.0} |",
                cost.wall.as_secs_f64(),
                cost.cpu.as_secs_f64(),
                cost.peak_memory as f64 / 1048576.0
            )?;
        }
        let ratio = |ours: f64, theirs: f64| if theirs > 0.0 { ours / theirs } else { f64::NAN };
        writeln!(
            f,
            "| ratio vylux/ffmpeg | {:.2} | {:.2} | {:.2} |",
            ratio(self.ours.wall.as_secs_f64(), self.ffmpeg.wall.as_secs_f64()),
            ratio(self.ours.cpu.as_secs_f64(), self.ffmpeg.cpu.as_secs_f64()),
            ratio(self.ours.peak_memory as f64, self.ffmpeg.peak_memory as f64)
        )?;
        writeln!(
            f,
            "vylux resident memory after a run, with freed memory returned: {:.0} MiB",
            self.retained_memory as f64 / 1048576.0
        )
    }
}

/// Runs the ladder for `src` through our pipeline and through ffmpeg (x264 with the same preset,
/// CRF, VBV cap and GOP, one decode split to every rung, CMAF HLS output), `runs` times each,
/// writing under `work_dir/vylux` and `work_dir/ffmpeg`. Ours goes first in odd-numbered runs and
/// ffmpeg in even-numbered ones. The clear (unencrypted) ladder is measured.
pub fn bench_transcode(src: &Path, work_dir: &Path, config: &TranscodeConfig, runs: usize) -> Result<BenchReport, MediaError> {
    if runs == 0 {
        return Err(MediaError::new(ErrorCode::InvalidOptions, "the benchmark needs at least 1 run, got 0"));
    }
    let info = probe(src)?;
    let renditions = resolve_ladder(info.width, info.height);
    let frame_rate = output_frame_rate(&info);
    let gop = gop_frames(frame_rate, config.segment_duration);
    let clear = TranscodeConfig { encryption: None, ..config.clone() };

    let ours_dir = work_dir.join("vylux");
    // Returns the run's cost and the resident memory after it.
    let run_ours = || -> Result<(RunCost, u64), MediaError> {
        remove_output(&ours_dir)?;
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let cpu_before = process_cpu("self");
        let started = Instant::now();
        transcode_hls(src, &ours_dir, &clear, &|_| {})?;
        let cost = RunCost {
            wall: started.elapsed(),
            cpu: process_cpu("self").saturating_sub(cpu_before),
            peak_memory: peak_memory("self"),
        };
        // As the worker does after each ladder.
        super::release_freed_memory();
        Ok((cost, resident_memory("self")))
    };

    let out = work_dir.join("ffmpeg");
    let mut filter = format!(
        "[0:v:0]fps={}/{},split={}",
        frame_rate.0,
        frame_rate.1,
        renditions.len()
    );
    for index in 0..renditions.len() {
        filter.push_str(&format!("[v{index}]"));
    }
    for (index, rendition) in renditions.iter().enumerate() {
        filter.push_str(&format!(";[v{index}]scale={}:{}:flags=bilinear,setsar=1[o{index}]", rendition.width, rendition.height));
    }
    let run_ffmpeg = || -> Result<RunCost, MediaError> {
        remove_output(&out)?;
        let mut command = Command::new("ffmpeg");
        command.args(["-nostdin", "-v", "error", "-y", "-i"]).arg(src).args(["-filter_complex", &filter]);
        for (index, rendition) in renditions.iter().enumerate() {
            let folder = out.join(rendition.id());
            std::fs::create_dir_all(&folder).map_err(|error| MediaError::output(&folder, error))?;
            let kbps = rendition.bandwidth / 1000;
            command
                .args(["-map", &format!("[o{index}]"), "-an", "-c:v", "libx264", "-preset", &clear.x264_preset])
                .args(["-crf", &rendition.rung.crf.to_string(), "-maxrate", &format!("{kbps}k")])
                .args(["-bufsize", &format!("{}k", kbps * 2), "-g", &gop.to_string(), "-keyint_min", &gop.to_string()])
                .args(["-sc_threshold", "0", "-profile:v", "high", "-pix_fmt", "yuv420p"]);
            hls_output(&mut command, &folder, clear.segment_duration);
        }
        if info.has_audio() {
            let folder = out.join("audio");
            std::fs::create_dir_all(&folder).map_err(|error| MediaError::output(&folder, error))?;
            command.args(["-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", &AUDIO_BITRATE.to_string(), "-ac", "2"]);
            hls_output(&mut command, &folder, clear.segment_duration);
        }
        run_child(&mut command)
    };

    let mut ours = Vec::with_capacity(runs);
    let mut retained = Vec::with_capacity(runs);
    let mut ffmpeg = Vec::with_capacity(runs);
    for run in 0..runs {
        let ffmpeg_first = run % 2 == 1;
        if ffmpeg_first {
            ffmpeg.push(run_ffmpeg()?);
        }
        let (cost, resident) = run_ours()?;
        ours.push(cost);
        retained.push(resident);
        if !ffmpeg_first {
            ffmpeg.push(run_ffmpeg()?);
        }
    }

    Ok(BenchReport {
        source: src.display().to_string(),
        rungs: renditions.iter().map(|rendition| format!("{} {}x{}", rendition.id(), rendition.width, rendition.height)).collect(),
        runs,
        retained_memory: median(retained),
        ours: RunCost::median(&ours),
        ffmpeg: RunCost::median(&ffmpeg),
    })
}

/// Removes what an earlier run left in `folder`, so that each run starts from an empty one.
fn remove_output(folder: &Path) -> Result<(), MediaError> {
    match std::fs::remove_dir_all(folder) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(MediaError::output(folder, error)),
    }
}

fn hls_output(command: &mut Command, folder: &Path, segment: Duration) {
    command
        .args(["-f", "hls", "-hls_time", &segment.as_secs().to_string(), "-hls_playlist_type", "vod"])
        .args(["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename"])
        .arg(folder.join("seg_%d.m4s"))
        .arg(folder.join("playlist.m3u8"));
}

/// Runs `command`, sampling its CPU time and peak memory until it exits.
fn run_child(command: &mut Command) -> Result<RunCost, MediaError> {
    let started = Instant::now();
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|error| MediaError::new(ErrorCode::MissingElement, format!("ffmpeg failed to start: {error}")))?;
    let pid = child.id().to_string();
    let (mut cpu, mut peak) = (Duration::ZERO, 0);
    let status = loop {
        cpu = cpu.max(process_cpu(&pid));
        peak = peak.max(peak_memory(&pid));
        if let Some(status) = child.try_wait().map_err(|error| MediaError::pipeline(format!("ffmpeg wait failed: {error}")))? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = started.elapsed();
    if !status.success() {
        let mut errors = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut errors);
        }
        return Err(MediaError::pipeline(format!("ffmpeg failed ({status}): {}", errors.trim())));
    }
    Ok(RunCost { wall, cpu, peak_memory: peak })
}

/// Returns user plus system CPU time of `/proc/{pid}` (`self` for this process).
fn process_cpu(pid: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / CLOCK_TICKS_PER_SECOND)
}

/// Returns the peak resident memory (`VmHWM`) of `/proc/{pid}` in bytes.
fn peak_memory(pid: &str) -> u64 {
    status_bytes(pid, "VmHWM:")
}

/// Returns the resident memory (`VmRSS`) of `/proc/{pid}` in bytes.
fn resident_memory(pid: &str) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// Returns the `/proc/{pid}/status` field `name` (given with its colon) in bytes, or 0.
fn status_bytes(pid: &str, name: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}
