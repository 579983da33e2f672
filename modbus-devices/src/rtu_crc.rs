//! The Modbus RTU frame check (CRC-16/MODBUS, sent low byte first), shared by the poller,
//! which counts answers with a bad CRC, and the simulator, which checks requests and can
//! corrupt answers on purpose.

const MODBUS_CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_MODBUS);

/// The CRC of `data`.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    MODBUS_CRC.checksum(data)
}

/// Whether a whole ADU (address, PDU, CRC) carries a correct CRC; an ADU shorter than 4
/// bytes never does.
pub(crate) fn crc_ok(adu: &[u8]) -> bool {
    if adu.len() < 4 {
        return false;
    }
    let (body, crc) = adu.split_at(adu.len() - 2);
    crc16(body) == u16::from_le_bytes([crc[0], crc[1]])
}
