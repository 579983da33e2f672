//! Fuzzes the frame parser: any bytes must decode or give an error naming an offset inside
//! the input, never panic, in both decoding modes; what decodes must serialize, and variable
//! data that decodes strictly must survive re-encoding (decode, encode, decode gives the
//! same records).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mbus_meters::encode::Telegram;
use mbus_meters::{Application, DecodeMode, Frame, OwnedFrame};

fuzz_target!(|data: &[u8]| {
    let frame = match Frame::parse(data) {
        Ok(f) => f,
        Err(e) => {
            assert!(e.offset() <= data.len(), "{e}");
            return;
        }
    };
    for mode in [DecodeMode::Lenient, DecodeMode::Strict] {
        for r in frame.records_with(mode) {
            match r {
                Ok(r) => {
                    let _ = r.value().to_string();
                    let _ = r.raw();
                    let _ = r.modifiers().count();
                }
                Err(e) => assert!(e.offset() <= data.len(), "{e}"),
            }
        }
    }
    let lenient = OwnedFrame::from_frame_with(&frame, DecodeMode::Lenient).expect("lenient decodes");
    let json = serde_json::to_string(&lenient).expect("serializes");
    let back: OwnedFrame = serde_json::from_str(&json).expect("parses back");
    assert_eq!(back.errors, lenient.errors);
    let Ok(owned) = OwnedFrame::from_frame_with(&frame, DecodeMode::Strict) else {
        return;
    };
    let json = serde_json::to_string(&owned).expect("serializes");
    let back: OwnedFrame = serde_json::from_str(&json).expect("parses back");
    assert_eq!(back.records.len(), owned.records.len());

    if matches!(frame.application(), Application::Variable { .. }) {
        let telegram = Telegram::from_frame(&frame).expect("variable data converts");
        // re-encoding is never longer: DIFE chains come back minimal, fillers dropped
        let bytes = telegram.encode().expect("decoded telegrams re-encode");
        let again = Frame::parse(&bytes).expect("encoded frames parse");
        let bytes2 = Telegram::from_frame(&again)
            .expect("converts")
            .encode()
            .expect("encodes");
        // compared as bytes: a real NaN is not equal to itself
        assert_eq!(bytes2, bytes);
    }
});
