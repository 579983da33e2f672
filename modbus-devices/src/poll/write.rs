//! Parameter writes: what goes on the wire for each kind of parameter.
//!
//! - **A coil, or a value filling its registers**: checked against the parameter's access
//!   and write range and encoded before anything is sent, then written with FC5 (one
//!   coil), FC15 (several coils), FC6 (one register) or FC16 (several registers).
//! - **One bit inside a holding register** (`type = "bit"`, `bit = n` on FC3): the other
//!   bits of the register belong to other settings, so the bit is written by
//!   read-modify-write: read the register (FC3), change the bit, write the word back (FC6),
//!   then read the register again and check the bit. A re-read that disagrees is
//!   [`PollError::WriteNotApplied`] (a write-protected device, another master writing at
//!   the same time). A write-only bit (`access = "write"`, a command that reads back as 0)
//!   is not checked.
//! - **A value whose scale lives in another register** (`scale_register`): the range is
//!   checked in the physical unit first, then the scale register is read, the value is
//!   encoded with that scale (a value the register cannot hold at this scale is refused
//!   before the write) and written. A scale register holding a power of ten outside
//!   -30..30 or a zero multiplier is [`PollError::BadScale`].
//!
//! The read-modify-write is one bus transaction after the other under the bus lock, so no
//! poll of this poller slips in between; other masters on the line can, which is what the
//! re-read check is for.

use tokio_modbus::{Request, Response};

use super::error::PollError;
use super::transport::{Link, describe_request};
use super::{BusHandle, DeviceEntry, Poller};
use crate::catalogue::Parameter;
use crate::error::CodecError;
use crate::register::{Access, DataType, FunctionCode, RegisterDef};
use crate::value::Value;

/// How one parameter is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The value fills its registers (or coils): encode and write.
    Whole,
    /// One bit of a holding register: read-modify-write with a re-read check.
    BitInRegister {
        /// The bit (0 = LSB).
        bit: u8,
    },
    /// The value is scaled by the content of another register.
    Scaled,
}

fn kind_of(def: &RegisterDef) -> Kind {
    if def.data_type == DataType::Bit && !def.function_code.is_bit_table() {
        Kind::BitInRegister {
            bit: def.bit.unwrap_or(0),
        }
    } else if def.scale_register.is_some() {
        Kind::Scaled
    } else {
        Kind::Whole
    }
}

/// Access and range checks that need no wire (the part of
/// [`RegisterDef::encode_for_write`] that does not encode).
fn check_value(def: &RegisterDef, value: &Value) -> Result<(), CodecError> {
    if def.access == Access::Read || !def.function_code.is_writable_table() {
        return Err(CodecError::ReadOnly {
            address: def.address,
        });
    }
    if let (Some(range), Value::Number(v)) = (def.write_range, value)
        && !(range.min..=range.max).contains(v)
    {
        return Err(CodecError::OutOfRange {
            value: *v,
            min: range.min,
            max: range.max,
        });
    }
    Ok(())
}

/// The request writing `words` at the parameter's address.
fn write_request(def: &RegisterDef, words: &[u16]) -> Request<'static> {
    match (def.function_code, words) {
        (FunctionCode::Coils, [w]) => Request::WriteSingleCoil(def.address, *w != 0),
        (FunctionCode::Coils, ws) => Request::WriteMultipleCoils(
            def.address,
            ws.iter().map(|w| *w != 0).collect::<Vec<_>>().into(),
        ),
        (_, [w]) => Request::WriteSingleRegister(def.address, *w),
        (_, ws) => Request::WriteMultipleRegisters(def.address, ws.to_vec().into()),
    }
}

impl Poller {
    /// Write `value` to parameter `p` of device `d`, on `link` (the bus lock is held).
    pub(super) async fn write_on_link(
        &self,
        link: &mut Link,
        bus: &BusHandle,
        d: &DeviceEntry,
        p: &Parameter,
        value: &Value,
    ) -> Result<(), PollError> {
        let def = &p.register;
        let refused = |source: CodecError| PollError::WriteRefused {
            device: d.instance.name.clone(),
            id: p.id.clone(),
            source,
        };
        match kind_of(def) {
            Kind::Whole => {
                let words = def.encode_for_write(value).map_err(refused)?;
                self.transact(link, bus, d, write_request(def, &words))
                    .await
                    .map(|_| ())
            }
            Kind::BitInRegister { bit } => {
                check_value(def, value).map_err(refused)?;
                let on = match value {
                    Value::Bool(b) => *b,
                    Value::Number(n) if *n == 0.0 || *n == 1.0 => *n == 1.0,
                    other => {
                        return Err(refused(CodecError::TypeMismatch {
                            expected: "bit (true/false or 0/1)",
                            found: other.kind(),
                        }));
                    }
                };
                let mask = 1u16 << bit.min(15);
                let [word] = self
                    .read_registers::<1>(link, bus, d, def.function_code, def.address)
                    .await?;
                let new = if on { word | mask } else { word & !mask };
                self.transact(link, bus, d, Request::WriteSingleRegister(def.address, new))
                    .await?;
                if def.access == Access::Write {
                    return Ok(());
                }
                let [back] = self
                    .read_registers::<1>(link, bus, d, def.function_code, def.address)
                    .await?;
                let found = back & mask != 0;
                if found != on {
                    let err = PollError::WriteNotApplied {
                        device: d.instance.name.clone(),
                        id: p.id.clone(),
                        address: def.address,
                        bit,
                        wanted: on,
                        found,
                    };
                    self.note_error(d, &err);
                    return Err(err);
                }
                Ok(())
            }
            Kind::Scaled => {
                check_value(def, value).map_err(refused)?;
                let Some(sr) = def.scale_register else {
                    return Err(refused(CodecError::ScaleRegisterMissing {
                        address: def.address,
                    }));
                };
                let fc = sr.function_code.unwrap_or(def.function_code);
                let [raw] = self
                    .read_registers::<1>(link, bus, d, fc, sr.address)
                    .await?;
                let raw = raw as i16;
                let bad = |reason: &'static str| PollError::BadScale {
                    device: d.instance.name.clone(),
                    id: p.id.clone(),
                    address: sr.address,
                    raw,
                    reason,
                };
                if sr.pow10 && !(-30..=30).contains(&raw) {
                    return Err(bad("a power of ten must lie within -30..30"));
                }
                if !sr.pow10 && raw == 0 {
                    return Err(bad("a multiplier of 0 scales every value to 0"));
                }
                let words = def.encode_scaled(value, Some(raw)).map_err(refused)?;
                self.transact(link, bus, d, write_request(def, &words))
                    .await
                    .map(|_| ())
            }
        }
    }

    /// Read `N` registers of table `fc` (FC3 or FC4) at `address`, with the bus's retries.
    async fn read_registers<const N: usize>(
        &self,
        link: &mut Link,
        bus: &BusHandle,
        d: &DeviceEntry,
        fc: FunctionCode,
        address: u16,
    ) -> Result<[u16; N], PollError> {
        let count = N as u16;
        let request = match fc {
            FunctionCode::Input => Request::ReadInputRegisters(address, count),
            _ => Request::ReadHoldingRegisters(address, count),
        };
        let what = describe_request(&request);
        let words = match self.transact(link, bus, d, request).await? {
            Response::ReadHoldingRegisters(w) | Response::ReadInputRegisters(w) => w,
            other => {
                return Err(PollError::Protocol {
                    device: d.instance.name.clone(),
                    request: what,
                    message: format!("expected a read answer, found {other:?}"),
                });
            }
        };
        <[u16; N]>::try_from(words.as_slice()).map_err(|_| PollError::Protocol {
            device: d.instance.name.clone(),
            request: what,
            message: format!("expected {N} registers, found {}", words.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::ScaleRegister;

    #[test]
    fn kinds_and_checks() {
        let mut bit = RegisterDef::new(FunctionCode::Holding, 10, DataType::Bit);
        bit.bit = Some(3);
        bit.access = Access::ReadWrite;
        assert_eq!(kind_of(&bit), Kind::BitInRegister { bit: 3 });
        let coil = RegisterDef::new(FunctionCode::Coils, 10, DataType::Bit);
        assert_eq!(kind_of(&coil), Kind::Whole);
        let mut scaled =
            RegisterDef::new(FunctionCode::Holding, 20, DataType::U16).with_write_range(0.0, 9.0);
        assert_eq!(kind_of(&scaled), Kind::Whole);
        scaled.scale_register = Some(ScaleRegister {
            function_code: None,
            address: 21,
            pow10: true,
        });
        assert_eq!(kind_of(&scaled), Kind::Scaled);
        assert!(check_value(&scaled, &Value::Number(9.0)).is_ok());
        assert!(matches!(
            check_value(&scaled, &Value::Number(9.5)),
            Err(CodecError::OutOfRange { .. })
        ));
        assert!(matches!(
            check_value(&coil, &Value::Bool(true)),
            Err(CodecError::ReadOnly { .. })
        ));
        assert_eq!(
            write_request(&scaled, &[7]),
            Request::WriteSingleRegister(20, 7)
        );
        assert_eq!(
            write_request(&scaled, &[7, 8]),
            Request::WriteMultipleRegisters(20, vec![7, 8].into())
        );
    }
}
