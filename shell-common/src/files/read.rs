//! Reading a download body in pieces, for connections that cannot use sendfile(2): over TLS
//! every byte must pass through the encryption in this process.

use std::io;
use std::os::unix::fs::FileExt;

use super::Sending;

impl Sending {
    /// Appends the next at most `max` owed bytes of the file to `out` (a positioned read, so
    /// the file's own offset is never shared state) and counts them as sent; returns how many.
    pub fn read_piece(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(max);
        let start = out.len();
        out.resize(start + want, 0);
        let mut filled = 0;
        while filled < want {
            match self
                .file
                .read_at(&mut out[start + filled..], self.offset + filled as u64)
            {
                // The file shrank while it was being sent; the promised length cannot be kept.
                Ok(0) => {
                    out.truncate(start);
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
        self.offset += filled as u64;
        self.remaining -= filled as u64;
        Ok(filled)
    }
}
