//! Drives a `kith-session` handshake and its records over a transport stream.
//!
//! The session crate is sans-IO; this module owns the I/O: it reads
//! length-prefixed frames, hands them to the session, and writes what the
//! session produces. Reading runs in its own task so that the connection
//! loop can `select!` between incoming frames and outgoing messages without
//! cancelling a half-read frame.

use std::time::Duration;

use kith_core::wire::{self, PeerMessage};
use kith_core::{IdentityKey, IdentityKeypair};
use kith_session::{Record, Session};
use kith_transport::BoxStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// How long a handshake may take (Tor circuits can be slow).
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(90);
/// Frames buffered between the reader task and the connection loop.
const READ_QUEUE: usize = 16;

/// Read one `u16 BE length ‖ body` frame. `Ok(None)` on a clean end of stream
/// at a frame boundary.
///
/// Not cancel safe: a partially read frame is lost if the future is dropped.
async fn read_frame(r: &mut ReadHalf<BoxStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0_u8; 2];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::from(u16::from_be_bytes(len));
    // The largest frame is u16::MAX bytes, which is kith_session's MAX_FRAME.
    let mut body = vec![0_u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// An authenticated, encrypted connection to one peer.
pub(crate) struct Conn {
    session: Session,
    frames: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    writer: WriteHalf<BoxStream>,
    reader: tokio::task::JoinHandle<()>,
    peer: IdentityKey,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Split a stream and start its reader task.
fn start_reader(
    stream: BoxStream,
) -> (
    mpsc::Receiver<std::io::Result<Vec<u8>>>,
    WriteHalf<BoxStream>,
    tokio::task::JoinHandle<()>,
) {
    let (mut rd, wr) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(READ_QUEUE);
    let task = tokio::spawn(async move {
        loop {
            let frame = read_frame(&mut rd).await;
            let stop = !matches!(frame, Ok(Some(_)));
            let item = match frame {
                Ok(Some(f)) => Ok(f),
                Ok(None) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                Err(e) => Err(e),
            };
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    (rx, wr, task)
}

async fn next_frame(rx: &mut mpsc::Receiver<std::io::Result<Vec<u8>>>) -> Result<Vec<u8>> {
    match rx.recv().await {
        Some(Ok(f)) => Ok(f),
        Some(Err(e)) => Err(Error::Io {
            action: "reading from peer",
            source: e,
        }),
        None => Err(Error::Protocol("stream ended")),
    }
}

async fn write_all(w: &mut WriteHalf<BoxStream>, bytes: &[u8]) -> Result<()> {
    w.write_all(bytes).await.map_err(|source| Error::Io {
        action: "writing to peer",
        source,
    })?;
    w.flush().await.map_err(|source| Error::Io {
        action: "writing to peer",
        source,
    })
}

/// Dial side: authenticate `expected` as the peer and ourselves to it.
pub(crate) async fn initiate(
    stream: BoxStream,
    me: &IdentityKeypair,
    expected: IdentityKey,
) -> Result<Conn> {
    let (mut frames, mut writer, reader) = start_reader(stream);
    let run = async {
        let (hs, msg1) = kith_session::Initiator::new(me.signing_key(), expected.verifying_key())?;
        write_all(&mut writer, &msg1).await?;
        let reply = next_frame(&mut frames).await?;
        let (session, msg3) = hs.read_reply(&reply)?;
        write_all(&mut writer, &msg3).await?;
        Ok::<_, Error>(session)
    };
    let session = tokio::time::timeout(HANDSHAKE_TIMEOUT, run)
        .await
        .map_err(|_| Error::Timeout("handshake"))??;
    Ok(Conn {
        session,
        frames,
        writer,
        reader,
        peer: expected,
    })
}

/// Listen side: authenticate whoever dialed us; returns their identity.
pub(crate) async fn respond(stream: BoxStream, me: &IdentityKeypair) -> Result<Conn> {
    let (mut frames, mut writer, reader) = start_reader(stream);
    let run = async {
        let hs = kith_session::Responder::new(me.signing_key())?;
        let hello = next_frame(&mut frames).await?;
        let (hs, msg2) = hs.read_hello(&hello)?;
        write_all(&mut writer, &msg2).await?;
        let finish = next_frame(&mut frames).await?;
        let (session, peer) = hs.read_finish(&finish)?;
        Ok::<_, Error>((session, IdentityKey::from(peer)))
    };
    let (session, peer) = tokio::time::timeout(HANDSHAKE_TIMEOUT, run)
        .await
        .map_err(|_| Error::Timeout("handshake"))??;
    Ok(Conn {
        session,
        frames,
        writer,
        reader,
        peer,
    })
}

impl Conn {
    /// The authenticated identity of the peer.
    pub(crate) fn peer(&self) -> IdentityKey {
        self.peer
    }

    /// Send one message in one record.
    pub(crate) async fn send(&mut self, msg: &PeerMessage) -> Result<()> {
        let bytes = wire::encode(msg)?;
        let record = self.session.seal(&bytes)?;
        write_all(&mut self.writer, &record).await
    }

    /// Receive the next message; `Ok(None)` when the peer closed cleanly.
    ///
    /// Cancel safe: frames are buffered by the reader task.
    pub(crate) async fn recv(&mut self) -> Result<Option<PeerMessage>> {
        let frame = next_frame(&mut self.frames).await?;
        self.decode(&frame)
    }

    /// Receive the next message, within `limit`.
    pub(crate) async fn recv_timeout(
        &mut self,
        limit: Duration,
        what: &'static str,
    ) -> Result<Option<PeerMessage>> {
        tokio::time::timeout(limit, self.recv())
            .await
            .map_err(|_| Error::Timeout(what))?
    }

    fn decode(&mut self, frame: &[u8]) -> Result<Option<PeerMessage>> {
        match self.session.open(frame)? {
            Record::Data(bytes) => Ok(Some(wire::decode(&bytes)?)),
            Record::Close => Ok(None),
        }
    }

    /// Close cleanly (best effort: the peer may be gone).
    pub(crate) async fn close(mut self) {
        if let Ok(rec) = self.session.close() {
            let _ = tokio::time::timeout(Duration::from_secs(5), write_all(&mut self.writer, &rec))
                .await;
        }
        let _ = self.writer.shutdown().await;
    }
}
