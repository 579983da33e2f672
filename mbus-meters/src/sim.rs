//! A simulated M-Bus: several slaves built from the encoder, as a pure request → answer
//! state machine (no I/O; the `master` feature adds `master::serve` to put it
//! behind a TCP socket or a serial line).
//!
//! Each [`SimMeter`] has a primary address, one or more RSP_UD telegrams (all but the last
//! ending with "more records follow", DIF 0x1F), and its secondary address taken from the long
//! header of its first telegram. The bus implements what a wired slave does:
//!
//! - `SND_NKE` to its primary address (or to 253 while selected, which also deselects it):
//!   link reset, answer `E5`;
//! - `SND_UD` with CI 0x52 to 253: selection by (wildcard) secondary address; a matching meter
//!   is selected and answers `E5`, every other meter is deselected;
//! - `REQ_UD2` to its primary address, to 253 while selected, or to 254: the current telegram.
//!   With FCV set, a toggled FCB moves to the next telegram (the last answer arrived), the same
//!   FCB repeats the last one (it was lost);
//! - 255 (broadcast without answer): processed, not answered.
//!
//! When several meters answer at once the answers collide: identical `E5` characters
//! superimpose into one `E5` (as on a real bus), anything else is OR-ed byte by byte (a current
//! pulse from either slave is a 0 bit on the wire... the superposition is emulated, not
//! modelled) and, should that happen to form a valid frame, its checksum is corrupted, so that
//! a collision always reaches the master as a garbled answer.
//!
//! A meter can be `silent` (never answers: a dead meter), ignore its next N requests, or lose
//! the answers to given requests after processing them (to test retries and FCB repetition).
//!
//! ```
//! use mbus_meters::encode::{DataSpec, HeaderSpec, LongHeader, RecordSpec, Telegram, VifSpec};
//! use mbus_meters::sim::{SimMeter, SimulatedBus};
//! use mbus_meters::{encode, Address, Control, Id, Manufacturer, Medium, Status};
//!
//! let header = LongHeader {
//!     id: Id::from_decimal(12345678).unwrap(),
//!     manufacturer: Manufacturer::from_letters("KAM").unwrap(),
//!     version: 1, medium: Medium::HEAT, access_number: 0, status: Status(0), signature: 0,
//! };
//! let energy = RecordSpec::new(VifSpec::Primary(0x06), DataSpec::bcd(8, 1234).unwrap());
//! let meter = SimMeter::new(5, vec![(HeaderSpec::Long(header), vec![energy])]).unwrap();
//! let mut bus = SimulatedBus::new(vec![meter]);
//! assert_eq!(bus.handle(&encode::short_frame(Control::SND_NKE, Address(5))), Some(vec![0xE5]));
//! let answer = bus.handle(&encode::short_frame(Control::req_ud2(true), Address(5))).unwrap();
//! assert_eq!(mbus_meters::decode(&answer).unwrap().header.unwrap().id.as_deref(), Some("12345678"));
//! assert_eq!(bus.handle(&encode::short_frame(Control::SND_NKE, Address(6))), None);
//! ```

use crate::app::{Application, SecondaryAddress};
use crate::encode::{HeaderSpec, RecordSpec, Telegram};
use crate::link::{ACK, Address, LinkFunction, parse_link};
use crate::{Error, Frame};

/// One simulated slave.
#[derive(Clone, Debug)]
pub struct SimMeter {
    /// Primary address (0..250).
    pub primary: u8,
    /// Secondary address (from the first telegram's long header).
    pub secondary: Option<SecondaryAddress>,
    /// The encoded RSP_UD telegrams, in readout order.
    pub telegrams: Vec<Vec<u8>>,
    /// Never answers.
    pub silent: bool,
    /// Ignores this many more requests, then answers again.
    pub drop_next: u32,
    /// Loses the answers to these requests (1-based count of the requests addressed to this
    /// meter): the meter processes the request, its answer never reaches the master.
    pub lose_answers: Vec<u32>,
    seen: u32,
    selected: bool,
    last_fcb: Option<bool>,
    index: usize,
    /// Requests this meter answered.
    pub answered: u32,
}

impl SimMeter {
    /// A meter at `primary` answering with these telegrams (header and records each); every
    /// telegram but the last gets a trailing "more records follow" record (DIF 0x1F).
    pub fn new(primary: u8, telegrams: Vec<(HeaderSpec, Vec<RecordSpec>)>) -> Result<Self, Error> {
        let n = telegrams.len();
        let mut encoded = Vec::with_capacity(n);
        let mut secondary = None;
        for (i, (header, mut records)) in telegrams.into_iter().enumerate() {
            if let HeaderSpec::Long(h) = &header
                && secondary.is_none()
            {
                secondary = Some(h.secondary_address());
            }
            if i + 1 < n {
                records.push(RecordSpec::manufacturer(Vec::new(), true));
            }
            encoded.push(Telegram::rsp_ud(Address(primary), header, records).encode()?);
        }
        if encoded.is_empty() {
            return Err(Error::Encode {
                what: "simulated meter",
                expected: "at least one telegram",
                found: "none".into(),
            });
        }
        Ok(SimMeter {
            primary,
            secondary,
            telegrams: encoded,
            silent: false,
            drop_next: 0,
            lose_answers: Vec::new(),
            seen: 0,
            selected: false,
            last_fcb: None,
            index: 0,
            answered: 0,
        })
    }

    /// The same meter, never answering.
    pub fn silent(mut self) -> Self {
        self.silent = true;
        self
    }

    /// The same meter, ignoring its next `n` requests.
    pub fn dropping(mut self, n: u32) -> Self {
        self.drop_next = n;
        self
    }

    /// The same meter, losing the answers to these requests (see [`SimMeter::lose_answers`]).
    pub fn losing(mut self, requests: &[u32]) -> Self {
        self.lose_answers = requests.to_vec();
        self
    }

    /// Whether the meter is currently selected by secondary address.
    pub fn is_selected(&self) -> bool {
        self.selected
    }

    fn addressed(&self, a: Address) -> bool {
        match a.0 {
            0..=250 => a.0 == self.primary,
            253 => self.selected,
            _ => true,
        }
    }

    fn reset_link(&mut self) {
        self.last_fcb = None;
        self.index = 0;
    }

    fn req_ud2(&mut self, fcb: bool, fcv: bool) -> Vec<u8> {
        if fcv {
            match self.last_fcb {
                Some(last) if last != fcb => {
                    self.index = (self.index + 1) % self.telegrams.len();
                }
                _ => {}
            }
            self.last_fcb = Some(fcb);
        }
        self.telegrams[self.index.min(self.telegrams.len() - 1)].clone()
    }
}

/// A bus of simulated slaves.
#[derive(Clone, Debug, Default)]
pub struct SimulatedBus {
    /// The slaves.
    pub meters: Vec<SimMeter>,
    /// Requests seen (valid frames).
    pub requests: u32,
    /// Answers that collided.
    pub collisions: u32,
}

impl SimulatedBus {
    /// A bus with these slaves.
    pub fn new(meters: Vec<SimMeter>) -> Self {
        SimulatedBus {
            meters,
            requests: 0,
            collisions: 0,
        }
    }

    /// Processes one request frame; the answer as it appears on the wire (None: no answer).
    /// Invalid requests are ignored, as a slave ignores them.
    pub fn handle(&mut self, request: &[u8]) -> Option<Vec<u8>> {
        let link = parse_link(request).ok()?;
        let (control, address) = (link.control?, link.address?);
        if !control.is_from_master() {
            return None;
        }
        self.requests += 1;
        let function = control.function();
        let selection = match function {
            LinkFunction::SndUd => match Frame::parse(request).ok()?.application() {
                Application::Selection { address: mask, .. } => Some(*mask),
                _ => None,
            },
            _ => None,
        };
        let mut answers: Vec<Vec<u8>> = Vec::new();
        for m in &mut self.meters {
            // a selection reaches every meter: it selects or deselects
            if let (Some(mask), 253) = (selection, address.0) {
                m.selected = m.secondary.is_some_and(|s| mask.matches(&s));
                if m.selected {
                    m.reset_link();
                }
                if !m.selected {
                    continue;
                }
            } else if !m.addressed(address) {
                continue;
            }
            let answer = match function {
                LinkFunction::SndNke => {
                    m.reset_link();
                    if address.0 == 253 {
                        m.selected = false;
                    }
                    Some(vec![ACK])
                }
                LinkFunction::SndUd => Some(vec![ACK]),
                LinkFunction::ReqUd2 => Some(m.req_ud2(control.fcb(), control.fcv())),
                _ => None,
            };
            let Some(answer) = answer else { continue };
            if m.silent || address.0 == 255 {
                continue;
            }
            if m.drop_next > 0 {
                m.drop_next -= 1;
                continue;
            }
            // processed (state changed), answer lost on the way back
            m.seen += 1;
            if m.lose_answers.contains(&m.seen) {
                continue;
            }
            m.answered += 1;
            answers.push(answer);
        }
        match answers.len() {
            0 => None,
            1 => answers.pop(),
            _ => {
                self.collisions += 1;
                Some(superimpose(&answers))
            }
        }
    }
}

/// Emulates several slaves answering at once: identical single characters stay one character,
/// anything else is OR-ed byte by byte and never forms a valid frame.
pub fn superimpose(answers: &[Vec<u8>]) -> Vec<u8> {
    let len = answers.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    for a in answers {
        for (o, b) in out.iter_mut().zip(a) {
            *o |= b;
        }
    }
    if out != [ACK] && out.len() >= 2 && parse_link(&out).is_ok() {
        let cs = out.len() - 2;
        out[cs] ^= 0xFF;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::encode::{DataSpec, LongHeader, VifSpec, select_frame, short_frame};
    use crate::{Control, Id, Manufacturer, Medium, Status};

    fn meter(primary: u8, id: u32, parts: usize) -> SimMeter {
        let header = LongHeader {
            id: Id::from_decimal(id).unwrap(),
            manufacturer: Manufacturer::from_letters("SIM").unwrap(),
            version: 1,
            medium: Medium::HEAT,
            access_number: 0,
            status: Status(0),
            signature: 0,
        };
        let telegrams = (0..parts)
            .map(|i| {
                let r =
                    RecordSpec::new(VifSpec::Primary(0x06), DataSpec::bcd(8, i as i64).unwrap());
                (HeaderSpec::Long(header), vec![r])
            })
            .collect();
        SimMeter::new(primary, telegrams).unwrap()
    }

    fn energy(answer: &[u8]) -> f64 {
        let f = crate::decode(answer).unwrap();
        match f.records[0].value {
            crate::OwnedValue::Number(v) => v,
            ref v => panic!("{v:?}"),
        }
    }

    #[test]
    fn fcb_toggling_walks_the_telegrams() {
        let mut bus = SimulatedBus::new(vec![meter(1, 11, 3)]);
        let req = |fcb| short_frame(Control::req_ud2(fcb), Address(1));
        bus.handle(&short_frame(Control::SND_NKE, Address(1)));
        assert_eq!(energy(&bus.handle(&req(true)).unwrap()), 0.0);
        // same FCB: the answer was lost, repeat
        assert_eq!(energy(&bus.handle(&req(true)).unwrap()), 0.0);
        assert_eq!(energy(&bus.handle(&req(false)).unwrap()), 1000.0);
        let last = bus.handle(&req(true)).unwrap();
        assert_eq!(energy(&last), 2000.0);
        assert!(!Frame::parse(&last).unwrap().more_records_follow().unwrap());
        // toggled after the last one: a new readout starts
        assert_eq!(energy(&bus.handle(&req(false)).unwrap()), 0.0);
    }

    #[test]
    fn selection_and_collisions() {
        let mut bus = SimulatedBus::new(vec![meter(1, 12345678, 1), meter(2, 12345679, 1)]);
        let mut mask = bus.meters[0].secondary.unwrap();
        mask.id = Id(0x1234567F);
        // both match: identical E5 superimpose into E5
        assert_eq!(bus.handle(&select_frame(false, &mask)), Some(vec![ACK]));
        let garbled = bus
            .handle(&short_frame(Control::req_ud2(true), Address::SELECTED))
            .unwrap();
        assert!(Frame::parse(&garbled).is_err());
        assert_eq!(bus.collisions, 2); // the two E5 and the two RSP_UD
        mask.id = Id(0x12345679);
        assert_eq!(bus.handle(&select_frame(false, &mask)), Some(vec![ACK]));
        assert!(!bus.meters[0].is_selected());
        let one = bus
            .handle(&short_frame(Control::req_ud2(true), Address::SELECTED))
            .unwrap();
        assert_eq!(
            crate::decode(&one).unwrap().header.unwrap().id.as_deref(),
            Some("12345679")
        );
        // SND_NKE to 253 deselects
        assert_eq!(
            bus.handle(&short_frame(Control::SND_NKE, Address::SELECTED)),
            Some(vec![ACK])
        );
        assert_eq!(
            bus.handle(&short_frame(Control::req_ud2(true), Address::SELECTED)),
            None
        );
    }

    #[test]
    fn silent_and_dropping() {
        let mut bus = SimulatedBus::new(vec![meter(1, 1, 1).silent(), meter(2, 2, 1).dropping(1)]);
        assert_eq!(bus.handle(&short_frame(Control::SND_NKE, Address(1))), None);
        assert_eq!(bus.handle(&short_frame(Control::SND_NKE, Address(2))), None);
        assert_eq!(
            bus.handle(&short_frame(Control::SND_NKE, Address(2))),
            Some(vec![ACK])
        );
        assert_eq!(bus.handle(&[0x10, 0x40, 0x02, 0x00, 0x16]), None);
    }
}
