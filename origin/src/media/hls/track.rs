//! The writer behind each rendition's `appsink`: it receives `cmafmux` output and writes
//! `init.mp4` and `seg_N.m4s`, encrypting each segment in memory first when a key is given.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use super::playlist::SegmentEntry;
use crate::media::encryption::{encrypt_segment, random_iv};
use crate::media::error::{ErrorCode, MediaError};

/// What one rendition has written so far.
#[derive(Debug, Default)]
pub(crate) struct TrackState {
    pub init_size: Option<u64>,
    pub segments: Vec<SegmentEntry>,
    /// RFC 6381 codec string, from the encoder's output caps.
    pub codec: Option<String>,
    /// First failure; the writer stops the pipeline with a flow error after recording it.
    pub error: Option<MediaError>,
}

/// Output folder and key of one rendition, shared with its `appsink` callback.
#[derive(Clone)]
pub(crate) struct TrackWriter {
    dir: PathBuf,
    key: Option<[u8; 16]>,
    /// Media time at the start that an edit list hides from players, in nanoseconds; the first
    /// segment's `EXTINF` leaves it out.
    hidden_lead_ns: u64,
    pub state: Arc<Mutex<TrackState>>,
}

impl TrackWriter {
    pub fn new(dir: PathBuf, key: Option<[u8; 16]>) -> Result<Self, MediaError> {
        std::fs::create_dir_all(&dir).map_err(|error| MediaError::output(&dir, error))?;
        Ok(Self { dir, key, hidden_lead_ns: 0, state: Arc::default() })
    }

    /// Sets the media time an edit list hides at the start of the track (the AAC priming).
    pub fn with_hidden_lead(mut self, lead: gst::ClockTime) -> Self {
        self.hidden_lead_ns = lead.nseconds();
        self
    }

    /// Creates the `appsink` that feeds this writer.
    pub fn appsink(&self) -> gst_app::AppSink {
        let writer = self.clone();
        gst_app::AppSink::builder()
            .sync(false)
            .buffer_list(true)
            .callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        writer.write_sample(&sample).map_err(|error| {
                            let mut state = writer.state.lock().unwrap();
                            state.error.get_or_insert(error);
                            gst::FlowError::Error
                        })?;
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            )
            .build()
    }

    /// Records the codec string computed by `codec` from the caps that pass `pad`.
    pub fn watch_codec(&self, pad: &gst::Pad, codec: fn(&gst::CapsRef) -> Option<String>) {
        let state = Arc::downgrade(&self.state);
        pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(event)) = &info.data {
                if let gst::EventView::Caps(caps) = event.view() {
                    if let (Some(state), Some(text)) = (state.upgrade(), codec(caps.caps())) {
                        state.lock().unwrap().codec = Some(text);
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
    }

    /// Writes one `cmafmux` output: an optional header buffer (the init segment), then the
    /// buffers of one fragment, whose first buffer carries the fragment's duration.
    fn write_sample(&self, sample: &gst::Sample) -> Result<(), MediaError> {
        let Some(list) = sample.buffer_list() else {
            return Ok(());
        };
        let mut buffers: Vec<&gst::BufferRef> = list.iter().collect();

        if let Some(first) = buffers.first() {
            if first.flags().contains(gst::BufferFlags::DISCONT | gst::BufferFlags::HEADER) {
                let bytes = read(first)?;
                self.write_init(&bytes)?;
                buffers.remove(0);
            }
        }
        let Some(first) = buffers.first() else {
            return Ok(());
        };

        let duration_ns = first.duration().map(|duration| duration.nseconds()).unwrap_or(0);
        let mut bytes = Vec::with_capacity(buffers.iter().map(|buffer| buffer.size()).sum());
        for buffer in &buffers {
            bytes.extend_from_slice(&read(buffer)?);
        }
        self.write_segment(bytes, duration_ns)
    }

    fn write_init(&self, bytes: &[u8]) -> Result<(), MediaError> {
        let path = self.dir.join("init.mp4");
        let mut state = self.state.lock().unwrap();
        if let Some(size) = state.init_size {
            // cmafmux repeats the header only if the stream format changed, which one HLS
            // rendition cannot express.
            let same = std::fs::read(&path).map(|existing| existing == bytes).unwrap_or(false);
            if !same {
                return Err(MediaError::pipeline(format!(
                    "the stream format of {} changed mid-stream (init segment of {size} bytes replaced)",
                    self.dir.display()
                )));
            }
            return Ok(());
        }
        std::fs::write(&path, bytes).map_err(|error| MediaError::output(&path, error))?;
        state.init_size = Some(bytes.len() as u64);
        Ok(())
    }

    fn write_segment(&self, bytes: Vec<u8>, duration_ns: u64) -> Result<(), MediaError> {
        let mut state = self.state.lock().unwrap();
        let name = format!("seg_{}.m4s", state.segments.len() + 1);
        let path = self.dir.join(&name);

        // Encrypted segments exist only in memory in clear form.
        let (bytes, iv) = match &self.key {
            Some(key) => {
                let iv = random_iv().map_err(|error| {
                    MediaError::new(ErrorCode::PipelineFailed, format!("no random IV available: {error}"))
                })?;
                (encrypt_segment(key, &iv, &bytes), Some(iv))
            }
            None => (bytes, None),
        };
        std::fs::write(&path, &bytes).map_err(|error| MediaError::output(&path, error))?;
        let duration_ns = if state.segments.is_empty() { duration_ns.saturating_sub(self.hidden_lead_ns) } else { duration_ns };
        state.segments.push(SegmentEntry { name, duration_ns, size: bytes.len() as u64, iv });
        Ok(())
    }
}

fn read(buffer: &gst::BufferRef) -> Result<Vec<u8>, MediaError> {
    let map = buffer.map_readable().map_err(|_| MediaError::pipeline("muxer output cannot be read"))?;
    Ok(map.as_slice().to_vec())
}
