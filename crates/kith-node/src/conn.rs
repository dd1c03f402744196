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

/// How long the dialing side's handshake may take in all (Tor circuits can be
/// slow to carry the first cells).
pub(crate) const INITIATOR_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest handshake message we read before the peer is authenticated. The
/// largest real one (a hello listing every version) is far below this; the
/// length is checked before anything is allocated.
const MAX_HANDSHAKE_FRAME: usize = 512;
/// Frames buffered between the reader task and the connection loop, once
/// the peer is authenticated.
const READ_QUEUE: usize = 4;
/// How long one write to the peer may take before the link counts as stalled.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Read one `u16 BE length ‖ body` frame. `Ok(None)` on a clean end of stream
/// at a frame boundary. Frames longer than `max` are refused unread.
///
/// Not cancel safe: a partially read frame is lost if the future is dropped.
async fn read_frame<R: AsyncReadExt + Unpin>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0_u8; 2];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::from(u16::from_be_bytes(len));
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too long",
        ));
    }
    let mut body = vec![0_u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Read one handshake message within `limit`, reading nothing beyond it.
async fn handshake_frame(r: &mut ReadHalf<BoxStream>, limit: Duration) -> Result<Vec<u8>> {
    match tokio::time::timeout(limit, read_frame(r, MAX_HANDSHAKE_FRAME)).await {
        Err(_) => Err(Error::Timeout("handshake")),
        Ok(Ok(Some(f))) => Ok(f),
        Ok(Ok(None)) => Err(Error::Protocol("stream ended in the handshake")),
        Ok(Err(source)) => Err(Error::Io {
            action: "reading the handshake",
            source,
        }),
    }
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

/// Start the reader task of an authenticated connection.
fn start_reader(
    mut rd: ReadHalf<BoxStream>,
) -> (
    mpsc::Receiver<std::io::Result<Vec<u8>>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel(READ_QUEUE);
    let task = tokio::spawn(async move {
        loop {
            let frame = read_frame(&mut rd, kith_session::MAX_FRAME).await;
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
    (rx, task)
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

/// Write and flush within [`WRITE_TIMEOUT`]: a peer that stops reading
/// cannot wedge us.
async fn write_all(w: &mut WriteHalf<BoxStream>, bytes: &[u8]) -> Result<()> {
    let io = async {
        w.write_all(bytes).await?;
        w.flush().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, io)
        .await
        .map_err(|_| Error::Timeout("writing to the peer"))?
        .map_err(|source| Error::Io {
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
    let (mut rd, mut writer) = tokio::io::split(stream);
    let run = async {
        let (hs, msg1) = kith_session::Initiator::new(me.signing_key(), expected.verifying_key())?;
        write_all(&mut writer, &msg1).await?;
        let reply = handshake_frame(&mut rd, INITIATOR_HANDSHAKE_TIMEOUT).await?;
        let (session, msg3) = hs.read_reply(&reply)?;
        write_all(&mut writer, &msg3).await?;
        Ok::<_, Error>(session)
    };
    let session = tokio::time::timeout(INITIATOR_HANDSHAKE_TIMEOUT, run)
        .await
        .map_err(|_| Error::Timeout("handshake"))??;
    let (frames, reader) = start_reader(rd);
    Ok(Conn {
        session,
        frames,
        writer,
        reader,
        peer: expected,
    })
}

/// Listen side: authenticate whoever dialed us; returns their identity.
///
/// Each message must arrive within `step` and the whole handshake within
/// twice that. Nothing beyond the handshake messages is read, and no task
/// is started, until the peer is authenticated.
pub(crate) async fn respond(
    stream: BoxStream,
    me: &IdentityKeypair,
    step: Duration,
) -> Result<Conn> {
    let (mut rd, mut writer) = tokio::io::split(stream);
    let run = async {
        let hs = kith_session::Responder::new(me.signing_key())?;
        let hello = handshake_frame(&mut rd, step).await?;
        let (hs, msg2) = hs.read_hello(&hello)?;
        write_all(&mut writer, &msg2).await?;
        let finish = handshake_frame(&mut rd, step).await?;
        let (session, peer) = hs.read_finish(&finish)?;
        Ok::<_, Error>((session, IdentityKey::from(peer)))
    };
    let (session, peer) = tokio::time::timeout(step * 2, run)
        .await
        .map_err(|_| Error::Timeout("handshake"))??;
    let (frames, reader) = start_reader(rd);
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

    /// The session's final Noise handshake hash (equal on both sides).
    pub(crate) fn handshake_hash(&self) -> [u8; 32] {
        *self.session.handshake_hash()
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

    /// Send bytes encoded by another protocol than [`PeerMessage`] (the
    /// inbox exchange) in one record.
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let record = self.session.seal(bytes)?;
        write_all(&mut self.writer, &record).await
    }

    /// Receive the next record's bytes, undecoded; `Ok(None)` when the
    /// peer closed cleanly.
    pub(crate) async fn recv_bytes(&mut self) -> Result<Option<Vec<u8>>> {
        let frame = next_frame(&mut self.frames).await?;
        match self.session.open(&frame)? {
            Record::Data(bytes) => Ok(Some(bytes)),
            Record::Close => Ok(None),
        }
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
